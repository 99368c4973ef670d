/* A campaign's records: filters (kept in the address), paging, CSV/XLSX export of the
   filtered list, and bulk actions (reassign / release callbacks, call next, park, unpark)
   on the selected rows or on every record the filters match.
   GET /api/campaigns/{id}/records, …/records/export, POST …/records/actions. */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  const form = $("filters");
  const campaignId = Number(form.dataset.campaignId);
  const FILTERS = ["system_status", "status_id", "owner_agent_id", "parked", "phone", "limit"];
  const bulk = $("bulk");
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
          D.h("td", {}, D.h("input", { type: "checkbox", name: "record", value: r.id, "aria-label": D.t("records.select", { phone: r.phone }) })),
          D.h("td", {}, D.h("a", { href: `/records/${r.id}` }, r.phone)),
          D.h("td", {}, r.name || "–"),
          D.h(
            "td",
            {},
            D.h("span", { class: "badge", dataset: { system: r.system_status } }, D.tv("system_status", r.system_status)),
            r.parked_at ? D.h("span", { class: "badge", dataset: { parked: "true" } }, D.t("records.parked_badge")) : null,
            r.call_next_at ? D.h("span", { class: "badge", dataset: { next: "true" } }, D.t("records.next_badge")) : null,
          ),
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
    D.setText($("page-info"), D.tn("records.page_of", data.total, { page, pages, total: D.fmtNumber(data.total) }));
    $("select-all").checked = false;
  }

  function bulkChanged() {
    $("b-agent-field").hidden = bulk.elements.action.value !== "reassign";
  }
  bulk.elements.action.addEventListener("change", bulkChanged);
  $("select-all").addEventListener("change", (ev) => {
    for (const box of D.$$('#records input[name="record"]')) box.checked = ev.target.checked;
  });
  bulk.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const scope = ev.submitter ? ev.submitter.value : "selected";
    const body = { action: bulk.elements.action.value };
    if (body.action === "reassign" && bulk.elements.agent_id.value) body.agent_id = Number(bulk.elements.agent_id.value);
    if (scope === "filter") {
      const f = filters();
      delete f.limit;
      if (f.parked) f.parked = f.parked === "true";
      for (const k of ["status_id", "owner_agent_id"]) if (f[k]) f[k] = Number(f[k]);
      body.filter = f;
    } else {
      body.ids = D.$$('#records input[name="record"]:checked').map((b) => Number(b.value));
      if (!body.ids.length) {
        D.clearFormErrors(bulk);
        D.setText(bulk.querySelector('[data-error-for="ids"]'), D.t("records.select_some"));
        return;
      }
    }
    await D.busy(ev.submitter, async () => {
      try {
        const done = await D.api("POST", `/api/campaigns/${campaignId}/records/actions`, body);
        D.clearFormErrors(bulk);
        const reasons = {};
        for (const why of Object.values(done.skipped)) reasons[why] = (reasons[why] || 0) + 1;
        const skipped = Object.entries(reasons).map(([why, n]) => `${D.tv("skip", why)}: ${D.fmtNumber(n)}`);
        D.setText($("bulk-result"), D.t("records.bulk_done", { changed: D.fmtNumber(done.changed.length), skipped: skipped.join(", ") || "0" }));
        await load();
      } catch (err) {
        D.setText($("bulk-result"), "");
        D.showFormErrors(bulk, err, $("records-error"));
      }
    });
  });

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
    if (agents.status === "fulfilled") {
      await fillSelect(form.elements.owner_agent_id, agents.value, (a) => a.name || a.login);
      await fillSelect(bulk.elements.agent_id, agents.value, (a) => a.name || a.login);
    }
    bulkChanged();
    load();
  })();
})();
