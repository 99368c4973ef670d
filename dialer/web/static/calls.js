/* The call log: filters (kept in the page's address), paging, CSV/XLSX export of the same
   filtered list. GET /api/calls and /api/calls/export. */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  const form = $("filters");
  const FILTERS = ["from", "to", "campaign", "agent", "group", "status", "system_status", "outcome", "phone", "page_size"];
  const DATES = new Set(["from", "to"]);
  const RECORDING = $("calls").dataset.recordingUrl || "";
  let page = 1;

  /** The recording link of a call (a cell only when recordings are configured). */
  function recordingCell(c) {
    if (!RECORDING) return [];
    const ref = c.recording_ref;
    const link = ref ? D.h("a", { href: RECORDING.split("{ref}").join(encodeURIComponent(ref)), target: "_blank", rel: "noopener" }, D.t("calls.listen")) : "–";
    return [D.h("td", {}, link)];
  }

  /** The filters as API query parameters (dates as ISO instants). */
  function filters() {
    return D.formFilters(form, FILTERS, DATES);
  }

  function fromAddress() {
    page = D.filtersFromAddress(form, FILTERS, DATES);
  }

  function updateExportLinks(params) {
    for (const format of ["csv", "xlsx"]) {
      const link = $("export-" + format);
      if (link) link.href = "/api/calls/export" + D.query(Object.assign({}, params, { format, page: null, page_size: null }));
    }
  }

  async function load() {
    const params = Object.assign(filters(), { page });
    history.replaceState(null, "", D.query(params) || location.pathname);
    updateExportLinks(params);
    let data;
    try {
      data = await D.api("GET", "/api/calls" + D.query(params));
      D.clearFormErrors(form);
      D.showError($("calls-error"), null);
    } catch (err) {
      D.showFormErrors(form, err, $("calls-error"));
      return;
    }
    const items = data.items;
    D.fillTable(
      $("calls"),
      items.map((c) =>
        D.h(
          "tr",
          { dataset: { call: c.id } },
          D.h("td", {}, D.timeEl(c.dial_at)),
          D.h("td", {}, c.campaign_name || "#" + c.campaign_id),
          D.h("td", {}, c.phone),
          D.h("td", {}, c.record_name || "–"),
          D.h("td", {}, c.agent_name || (c.agent_id ? "#" + c.agent_id : "–")),
          D.h("td", {}, D.h("span", { class: "badge", dataset: { outcome: c.outcome || "" } }, c.outcome ? D.tv("outcome", c.outcome) : D.t("calls.in_progress"))),
          D.h("td", {}, c.status_name || "–"),
          D.h("td", {}, D.tv("system_status", c.system_status)),
          D.h("td", { class: "num" }, D.fmtNumber(c.attempt)),
          D.h("td", { class: "num" }, D.fmtDuration(c.ring_s)),
          D.h("td", { class: "num" }, D.fmtDuration(c.wait_s)),
          D.h("td", { class: "num" }, D.fmtDuration(c.talk_s)),
          D.h("td", {}, c.hangup_cause_txt || (c.hangup_cause !== null ? String(c.hangup_cause) : "–")),
          D.h("td", { class: "note" }, c.note || ""),
          ...recordingCell(c),
        ),
      ),
      $("calls-empty"),
    );
    const pages = Math.max(1, Math.ceil(data.total / data.page_size));
    $("page-prev").disabled = page <= 1;
    $("page-next").disabled = data.total_capped ? items.length < data.page_size : page >= pages;
    D.setText(
      $("page-info"),
      data.total_capped
        ? D.tn("calls.page_of_capped", data.total, { page, pages, total: D.fmtNumber(data.total) })
        : D.tn("calls.page_of", data.total, { page, pages, total: D.fmtNumber(data.total) }),
    );
  }

  async function fillSelect(select, path, label) {
    if (!select) return;
    try {
      const rows = D.items(await D.api("GET", path));
      const keep = select.dataset.value || select.value;
      select.append(...rows.map((r) => D.h("option", { value: r.id }, label(r))));
      select.value = keep;
    } catch (err) {
      /* a role without that list simply has no such filter options */
    }
  }

  D.wirePaging(form, (next) => {
    page = next(page);
    load();
  });

  fromAddress();
  Promise.all([
    fillSelect(form.elements.campaign, "/api/campaigns", (r) => r.name),
    fillSelect(form.elements.agent, "/api/agents", (r) => r.name || r.login),
    fillSelect(form.elements.group, "/api/groups", (r) => r.name),
    fillSelect(form.elements.status, "/api/statuses", (r) => `${r.name} (${D.tv("system_status", r.system_status)})`),
  ]).then(load);
})();
