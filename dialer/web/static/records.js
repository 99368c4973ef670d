/* A campaign's records: filters (kept in the address), paging, CSV/XLSX export of the
   filtered list. GET /api/campaigns/{id}/records and …/records/export. */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  const form = $("filters");
  const campaignId = Number(form.dataset.campaignId);
  const FILTERS = ["system_status", "status_id", "owner_agent_id", "phone", "limit"];
  let offset = 0;

  function filters() {
    const out = {};
    for (const name of FILTERS) {
      const value = form.elements[name].value.trim();
      if (value) out[name] = value;
    }
    return out;
  }

  function fromAddress() {
    const q = new URLSearchParams(location.search);
    for (const name of FILTERS) {
      if (!q.has(name)) continue;
      form.elements[name].dataset.value = q.get(name);
      form.elements[name].value = q.get(name);
    }
    offset = Math.max(0, Number(q.get("offset") || 0));
  }

  async function load() {
    const params = Object.assign(filters(), { offset: offset || null });
    history.replaceState(null, "", D.query(params) || location.pathname);
    for (const format of ["csv", "xlsx"]) {
      const link = $("export-" + format);
      if (link) link.href = `/api/campaigns/${campaignId}/records/export` + D.query(Object.assign({}, params, { format, offset: null, limit: null }));
    }
    let data;
    try {
      data = await D.api("GET", `/api/campaigns/${campaignId}/records` + D.query(params));
      D.clearFormErrors(form);
      D.showError($("records-error"), null);
    } catch (err) {
      D.showFormErrors(form, err, $("records-error"));
      return;
    }
    D.fillTable(
      $("records"),
      data.items.map((r) =>
        D.h(
          "tr",
          { dataset: { record: r.id } },
          D.h("td", {}, r.phone),
          D.h("td", {}, r.name || "–"),
          D.h("td", {}, D.h("span", { class: "badge", dataset: { system: r.system_status } }, D.tv("system_status", r.system_status))),
          D.h("td", {}, r.status || "–"),
          D.h("td", { class: "num" }, D.fmtNumber(r.attempts)),
          D.h("td", {}, D.timeEl(r.next_call_at, true)),
          D.h("td", {}, r.owner || "–"),
          D.h("td", {}, r.last_outcome ? D.tv("outcome", r.last_outcome) : "–"),
          D.h("td", {}, D.timeEl(r.last_call_at, true)),
        ),
      ),
      $("records-empty"),
    );
    const pages = Math.max(1, Math.ceil(data.total / data.limit));
    const page = Math.floor(data.offset / data.limit) + 1;
    $("page-prev").disabled = data.offset <= 0;
    $("page-next").disabled = data.offset + data.limit >= data.total;
    D.setText($("page-info"), D.t("calls.page_of", { page, pages, total: D.fmtNumber(data.total) }));
  }

  async function fillSelect(select, rows, label) {
    const keep = select.dataset.value || select.value;
    select.append(...rows.map((r) => D.h("option", { value: r.id }, label(r))));
    select.value = keep;
  }

  D.wirePaging(form, (next) => {
    const limit = Number(form.elements.limit.value);
    offset = (next(offset / limit + 1) - 1) * limit;
    load();
  });

  fromAddress();
  (async function start() {
    const [campaign, agents] = await Promise.allSettled([
      D.api("GET", `/api/campaigns/${campaignId}`),
      D.api("GET", "/api/agents"),
    ]);
    if (campaign.status === "fulfilled") {
      D.setText($("records-campaign"), campaign.value.name);
      document.title = `${campaign.value.name} · ${D.t("records.title")} · ${D.t("app.name")}`;
      await fillSelect(form.elements.status_id, campaign.value.statuses, (s) => `${s.name} (${D.tv("system_status", s.system_status)})`);
    } else {
      D.showError($("records-error"), campaign.reason);
    }
    if (agents.status === "fulfilled") await fillSelect(form.elements.owner_agent_id, agents.value, (a) => a.name || a.login);
    load();
  })();
})();
