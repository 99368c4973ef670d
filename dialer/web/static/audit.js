/* The audit log: filters (kept in the page's address) by actor, entity, action and period;
   paging; each change's details as a readable diff (before → after). GET /api/audit. */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  const form = $("filters");
  const FILTERS = ["actor", "entity", "entity_id", "action", "since", "until", "page_size"];
  const DATES = new Set(["since", "until"]);
  let page = 1;

  /** The filters as API query parameters (dates as ISO instants). */
  function filters() {
    const out = {};
    for (const name of FILTERS) {
      const value = form.elements[name].value.trim();
      if (value) out[name] = DATES.has(name) ? D.localInputToIso(value) : value;
    }
    return out;
  }

  function fromAddress() {
    const q = new URLSearchParams(location.search);
    for (const name of FILTERS) {
      if (!q.has(name)) continue;
      const input = form.elements[name];
      input.value = DATES.has(name) ? D.isoToLocalInput(q.get(name)) : q.get(name);
    }
    page = Math.max(1, Number(q.get("page") || 1));
  }

  /** The details of a change as a readable diff (field: before → after). */
  function details(value) {
    return D.diff(value);
  }

  async function load() {
    const kept = filters();
    const size = Number(kept.page_size || 50);
    history.replaceState(null, "", D.query(Object.assign({}, kept, { page: page > 1 ? page : null })) || location.pathname);
    const params = Object.assign({}, kept, { page_size: null, limit: size, offset: (page - 1) * size });
    let data;
    try {
      data = await D.api("GET", "/api/audit" + D.query(params));
      D.clearFormErrors(form);
      D.showError($("audit-error"), null);
    } catch (err) {
      D.showFormErrors(form, err, $("audit-error"));
      return;
    }
    D.fillTable(
      $("audit"),
      data.items.map((a) =>
        D.h(
          "tr",
          { dataset: { audit: a.id } },
          D.h("td", {}, D.timeEl(a.at)),
          D.h("td", {}, a.actor),
          D.h("td", {}, a.action),
          D.h("td", {}, a.entity),
          D.h("td", {}, a.entity_id || "–"),
          D.h("td", { class: "note" }, details(a.details)),
        ),
      ),
      $("audit-empty"),
    );
    const pages = Math.max(1, Math.ceil(data.total / size));
    $("page-prev").disabled = page <= 1;
    $("page-next").disabled = page >= pages;
    D.setText($("page-info"), D.tn("audit.page_of", data.total, { page, pages, total: D.fmtNumber(data.total) }));
  }

  D.wirePaging(form, (next) => {
    page = next(page);
    load();
  });

  fromAddress();
  load();
})();
