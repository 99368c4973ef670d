/* Callback requests: filters (kept in the page's address), statistics per source, paging,
   a request's history, CSV/XLSX export; supervisors cancel waiting requests;
   administrators manage the sources and their API keys.
   GET /api/requests, /api/requests/stats, /api/requests/{id}, /api/request-sources. */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  const form = $("filters");
  const FILTERS = ["from", "to", "state", "source", "campaign", "page_size"];
  const DATES = new Set(["from", "to"]);
  const STATES = ["waiting", "calling", "in_progress", "answered", "missed_by_agent", "missed_by_customer", "carrier_failure", "cancelled"];
  const supervisor = $("requests").dataset.supervisor === "true";
  let page = 1;

  function filters() {
    return D.formFilters(form, FILTERS, DATES);
  }

  function fromAddress() {
    page = D.filtersFromAddress(form, FILTERS, DATES);
  }

  function stateBadge(state) {
    return D.h("span", { class: "badge", dataset: { requestState: state } }, D.tv("request_state", state));
  }

  async function toggleHistory(button, item) {
    const row = button.closest("tr");
    const open = row.nextElementSibling;
    if (open && open.dataset.historyOf === String(item.id)) {
      open.remove();
      button.setAttribute("aria-expanded", "false");
      return;
    }
    let full;
    try {
      full = await D.api("GET", `/api/requests/${item.id}`);
    } catch (err) {
      D.showError($("requests-error"), err);
      return;
    }
    const list = D.h(
      "ol",
      { class: "plain history" },
      full.history.map((h) => D.h("li", {}, D.timeEl(h.at), " — ", stateBadge(h.state), h.detail ? ` (${h.detail})` : "")),
    );
    const cell = D.h("td", { colspan: "12" }, D.h("strong", {}, D.t("requests.history")), list);
    row.after(D.h("tr", { class: "history-row", dataset: { historyOf: item.id } }, cell));
    button.setAttribute("aria-expanded", "true");
  }

  async function cancel(button, item) {
    if (!window.confirm(D.t("requests.confirm_cancel", { phone: item.phone }))) return;
    await D.busy(button, async () => {
      try {
        await D.api("POST", `/api/requests/${item.id}/cancel`);
        D.showError($("requests-error"), null);
        D.setText($("requests-ok"), D.t("requests.cancelled", { phone: item.phone }));
        await load();
      } catch (err) {
        D.setText($("requests-ok"), "");
        D.showError($("requests-error"), err);
      }
    });
  }

  function row(item) {
    const history = D.h("button", { type: "button", class: "small", "aria-expanded": "false" }, D.t("requests.history"));
    history.addEventListener("click", () => toggleHistory(history, item));
    const actions = [history];
    if (supervisor && item.state === "waiting") {
      const off = D.h("button", { type: "button", class: "small danger", "aria-label": `${D.t("requests.cancel")}: ${item.phone}` }, D.t("requests.cancel"));
      off.addEventListener("click", () => cancel(off, item));
      actions.push(off);
    }
    return D.h(
      "tr",
      { dataset: { request: item.id, state: item.state } },
      D.h("td", {}, D.timeEl(item.created_at, true)),
      D.h("td", {}, item.source),
      D.h("td", {}, item.campaign),
      D.h("td", {}, item.phone),
      D.h("td", {}, item.name || "–"),
      D.h("td", {}, D.tv("request_kind", item.kind)),
      D.h("td", {}, D.timeEl(item.due_at, true)),
      D.h("td", {}, stateBadge(item.state)),
      D.h("td", {}, item.agent || "–"),
      D.h("td", { class: "num" }, D.fmtNumber(item.attempts)),
      D.h("td", { class: "note" }, item.reason || ""),
      D.h("td", { class: "actions" }, ...actions),
    );
  }

  function statsRow(s) {
    return D.h(
      "tr",
      { dataset: { source: s.source_id } },
      D.h("th", { scope: "row" }, s.source),
      D.h("td", { class: "num" }, D.fmtNumber(s.total)),
      ...STATES.map((state) => D.h("td", { class: "num", dataset: { state } }, D.fmtNumber(s[state]))),
      D.h("td", { class: "num" }, s.answered_rate === null ? "–" : D.fmtPercent(s.answered_rate)),
    );
  }

  async function load() {
    const kept = filters();
    const params = Object.assign({}, kept, { page });
    history.replaceState(null, "", D.query(Object.assign({}, kept, { page: page > 1 ? page : null })) || location.pathname);
    for (const format of ["csv", "xlsx"]) {
      const link = $("export-" + format);
      if (link) link.href = "/api/requests/export" + D.query(Object.assign({}, kept, { format, page_size: null }));
    }
    let data, stats;
    try {
      [data, stats] = await Promise.all([
        D.api("GET", "/api/requests" + D.query(params)),
        D.api("GET", "/api/requests/stats" + D.query(Object.assign({}, kept, { page_size: null }))),
      ]);
      D.clearFormErrors(form);
      D.showError($("requests-error"), null);
    } catch (err) {
      D.showFormErrors(form, err, $("requests-error"));
      return;
    }
    D.fillTable($("requests"), data.items.map(row), $("requests-empty"));
    D.fillTable($("request-stats"), stats.map(statsRow), $("stats-empty"));
    const pages = Math.max(1, Math.ceil(data.total / data.page_size));
    $("page-prev").disabled = page <= 1;
    $("page-next").disabled = page >= pages;
    D.setText($("page-info"), D.tn("calls.page_of", data.total, { page, pages, total: D.fmtNumber(data.total) }));
  }

  async function fillSelect(select, path, label) {
    if (!select) return;
    try {
      const rows = D.items(await D.api("GET", path));
      const keep = select.dataset.value || select.value;
      select.append(...rows.map((r) => D.h("option", { value: r.id }, label(r))));
      select.value = keep;
    } catch (err) {
      /* a role without that list has no such filter options */
    }
  }

  /* ---- sources (administrators) ------------------------------------------------------- */

  async function revoke(button, source) {
    if (!window.confirm(D.t("requests.confirm_revoke", { source: source.name }))) return;
    await D.busy(button, async () => {
      try {
        await D.api("DELETE", `/api/request-sources/${source.id}`);
        D.setText($("requests-ok"), D.t("requests.revoked", { source: source.name }));
        await loadSources();
      } catch (err) {
        D.showError($("source-error"), err);
      }
    });
  }

  function sourceRow(s) {
    const cells = [
      D.h("td", {}, s.name),
      D.h("td", {}, D.h("code", {}, s.key_prefix + "…")),
      D.h("td", { class: "num" }, D.fmtNumber(s.rate_per_min)),
      D.h("td", { class: "num" }, D.fmtNumber(s.answer_within_s)),
      D.h("td", {}, D.timeEl(s.created_at, true)),
      D.h("td", {}, s.active ? D.t("requests.active") : D.t("requests.revoked_at", { at: D.fmtDateTime(s.revoked_at) })),
    ];
    const actions = D.h("td", { class: "actions" });
    if (s.active) {
      const off = D.h("button", { type: "button", class: "small danger", "aria-label": `${D.t("requests.revoke")}: ${s.name}` }, D.t("requests.revoke"));
      off.addEventListener("click", () => revoke(off, s));
      actions.append(off);
    }
    cells.push(actions);
    return D.h("tr", { dataset: { sourceId: s.id } }, ...cells);
  }

  async function loadSources() {
    const table = $("sources");
    if (!table) return;
    try {
      const rows = await D.api("GET", "/api/request-sources");
      D.fillTable(table, rows.map(sourceRow));
    } catch (err) {
      D.showError($("source-error"), err);
    }
  }

  const sourceForm = $("source-form");
  if (sourceForm) {
    sourceForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      await D.busy($("btn-source"), async () => {
        const body = {
          name: sourceForm.elements.name.value.trim(),
          rate_per_min: Number(sourceForm.elements.rate_per_min.value),
          answer_within_s: Number(sourceForm.elements.answer_within_s.value),
        };
        try {
          const made = await D.api("POST", "/api/request-sources", body);
          D.clearFormErrors(sourceForm);
          D.showError($("source-error"), null);
          $("new-key-value").textContent = made.api_key;
          $("new-key").hidden = false;
          sourceForm.reset();
          await loadSources();
        } catch (err) {
          D.showFormErrors(sourceForm, err, $("source-error"));
        }
      });
    });
  }

  D.wirePaging(form, (next) => {
    page = next(page);
    load();
  });

  fromAddress();
  Promise.all([
    fillSelect(form.elements.campaign, "/api/campaigns", (r) => r.name),
    fillSelect(form.elements.source, "/api/requests/sources", (r) => r.name),
  ]).then(load);
  loadSources();
  // A request's state change (a call placed, answered, missed, cancelled) shows at once.
  D.live({ follow: "requests" }, { request: D.throttle(load, 1000) });
})();
