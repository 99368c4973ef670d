/* The missed-call worklist: filters (kept in the page's address), paging, export; each row
   expands to its history (misses, callbacks with outcome and agent, notes, manual actions)
   with a note form; agents call a row back, leaders hide and restore, supervisors delete,
   read the statistics and link queues to callback campaigns. The header's counter follows
   the open rows. GET /api/worklist, /api/worklist/{id}, /api/worklist/count,
   /api/worklist/stats, /api/inbound/queues; POST …/hide, …/restore, …/notes, …/callback;
   DELETE /api/worklist/{id}; PUT/DELETE /api/inbound/queues/{queue}. */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  const form = $("filters");
  const role = D.role;
  const isAgent = role === "agent";
  const isLeader = role === "admin" || role === "head" || role === "group_leader";
  const isSupervisor = role === "admin" || role === "head";
  const FILTERS = ["state", "queue", "max_age_h", "phone", "page_size"];
  const COLUMNS = 7;
  const open = new Set();
  let page = 1;

  function filters() {
    return D.formFilters(form, FILTERS);
  }

  function fromAddress() {
    page = D.filtersFromAddress(form, FILTERS);
  }

  function say(text) {
    D.showError($("wl-error"), null);
    D.setText($("wl-ok"), text);
  }

  function fail(err) {
    D.setText($("wl-ok"), "");
    D.showError($("wl-error"), err);
  }

  async function refreshCount() {
    const el = $("worklist-count");
    if (!el) return;
    try {
      const data = await D.api("GET", "/api/worklist/count");
      el.textContent = String(data.open);
      el.setAttribute("aria-label", `${D.t("worklist.open_count")}: ${data.open}`);
    } catch (err) {
      /* the counter waits for the next refresh */
    }
  }

  async function act(button, method, path, message, body) {
    await D.busy(button, async () => {
      try {
        await D.api(method, path, body);
        say(message);
        await load();
        await refreshCount();
        await loadStats();
      } catch (err) {
        fail(err);
      }
    });
  }

  function lastAction(row) {
    if (row.closed_reason) return D.tv("wl_closed", row.closed_reason);
    if (row.last_outcome) {
      return `${D.t("worklist.callback")}: ${D.tv("outcome", row.last_outcome)}`;
    }
    return D.tv("wl_reason", row.last_reason);
  }

  function historyLine(entry) {
    const who = [entry.agent ? `${D.t("col.agent")} ${entry.agent}` : null, entry.actor !== "system" ? entry.actor : null]
      .filter(Boolean)
      .join(" · ");
    return D.h(
      "li",
      { dataset: { kind: entry.kind } },
      D.timeEl(entry.at, true),
      " ",
      D.h("strong", {}, D.tv("wl_kind", entry.kind)),
      entry.outcome ? ` (${outcomeText(entry)})` : "",
      who ? ` — ${who}` : "",
      entry.detail ? ` — ${entry.detail}` : ""
    );
  }

  function outcomeText(entry) {
    if (entry.kind === "callback") return D.tv("outcome", entry.outcome);
    if (entry.kind === "closed") return D.tv("wl_closed", entry.outcome);
    if (entry.kind === "missed") return D.tv("wl_reason", entry.outcome);
    return entry.outcome;
  }

  async function historyRow(row) {
    const detail = await D.api("GET", `/api/worklist/${row.id}`);
    const list = D.h("ol", { class: "plain history", "aria-label": D.t("worklist.history") }, ...detail.history.map(historyLine));
    const input = D.h("input", { id: `note-${row.id}`, name: "text", maxlength: "2000", required: true });
    const noteForm = D.h(
      "form",
      { class: "inline note-form", dataset: { note: row.id } },
      D.h("label", { for: `note-${row.id}` }, D.t("worklist.note")),
      input,
      D.h("button", { type: "submit" }, D.t("worklist.add_note"))
    );
    noteForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) {
        input.focus();
        return;
      }
      await act(noteForm.querySelector("button"), "POST", `/api/worklist/${row.id}/notes`, D.t("worklist.noted"), { text });
    });
    return D.h("tr", { class: "history-row", id: `history-${row.id}`, dataset: { historyFor: row.id } }, D.h("td", { colspan: COLUMNS }, list, noteForm));
  }

  function actions(row) {
    const out = [];
    const expand = D.h(
      "button",
      { type: "button", class: "small", "aria-expanded": open.has(row.id) ? "true" : "false", "aria-controls": `history-${row.id}`, "aria-label": `${D.t("worklist.history")}: ${row.phone}` },
      D.t("worklist.history")
    );
    expand.addEventListener("click", async () => {
      if (open.has(row.id)) open.delete(row.id);
      else open.add(row.id);
      await load();
    });
    out.push(expand);
    if (isAgent && row.state === "open") {
      const call = D.h("button", { type: "button", class: "small primary", "aria-label": `${D.t("worklist.call_back")}: ${row.phone}` }, D.t("worklist.call_back"));
      call.addEventListener("click", () => act(call, "POST", `/api/worklist/${row.id}/callback`, D.t("worklist.calling", { phone: row.phone }), {}));
      out.push(call);
    }
    if (isLeader && row.state === "open") {
      const hide = D.h("button", { type: "button", class: "small", "aria-label": `${D.t("worklist.hide")}: ${row.phone}` }, D.t("worklist.hide"));
      hide.addEventListener("click", () => act(hide, "POST", `/api/worklist/${row.id}/hide`, D.t("worklist.hidden", { phone: row.phone })));
      out.push(hide);
    }
    if (isLeader && row.state === "hidden") {
      const restore = D.h("button", { type: "button", class: "small", "aria-label": `${D.t("worklist.restore")}: ${row.phone}` }, D.t("worklist.restore"));
      restore.addEventListener("click", () => act(restore, "POST", `/api/worklist/${row.id}/restore`, D.t("worklist.restored", { phone: row.phone })));
      out.push(restore);
    }
    if (isSupervisor && row.state !== "closed") {
      const del = D.h("button", { type: "button", class: "small danger", "aria-label": `${D.t("worklist.delete")}: ${row.phone}` }, D.t("worklist.delete"));
      del.addEventListener("click", () => {
        if (!window.confirm(D.t("worklist.confirm_delete", { phone: row.phone }))) return;
        act(del, "DELETE", `/api/worklist/${row.id}`, D.t("worklist.deleted", { phone: row.phone }));
      });
      out.push(del);
    }
    return D.h("td", { class: "actions" }, ...out);
  }

  function rowEl(row) {
    return D.h(
      "tr",
      { dataset: { row: row.id, state: row.state } },
      D.h("td", {}, row.phone),
      D.h("td", {}, row.queue),
      D.h("td", { class: "num" }, D.fmtNumber(row.miss_count)),
      D.h("td", {}, D.timeEl(row.last_missed_at, true)),
      D.h("td", {}, lastAction(row)),
      D.h("td", {}, D.h("span", { class: "badge", dataset: { wlState: row.state } }, D.tv("wl_state", row.state))),
      actions(row)
    );
  }

  async function load() {
    const kept = filters();
    const size = Number(kept.page_size || 50);
    history.replaceState(null, "", D.query(Object.assign({}, kept, { page: page > 1 ? page : null })) || location.pathname);
    const params = Object.assign({}, kept, { page_size: null });
    for (const format of ["csv", "xlsx"]) {
      const link = $("export-" + format);
      if (link) link.href = "/api/worklist/export" + D.query(Object.assign({}, params, { format }));
    }
    let data;
    try {
      data = await D.api("GET", "/api/worklist" + D.query(Object.assign({}, params, { limit: size, offset: (page - 1) * size })));
      D.clearFormErrors(form);
      D.showError($("wl-error"), null);
    } catch (err) {
      D.showFormErrors(form, err, $("wl-error"));
      return;
    }
    const rows = [];
    for (const row of data.items) {
      rows.push(rowEl(row));
      if (open.has(row.id)) {
        try {
          rows.push(await historyRow(row));
        } catch (err) {
          fail(err);
        }
      }
    }
    D.fillTable($("worklist"), rows, $("wl-empty"));
    const pages = Math.max(1, Math.ceil(data.total / size));
    $("page-prev").disabled = page <= 1;
    $("page-next").disabled = page >= pages;
    D.setText($("page-info"), D.tn("worklist.page_of", data.total, { page, pages, total: D.fmtNumber(data.total) }));
  }

  async function loadStats() {
    const box = $("stats");
    if (!box) return;
    const days = Number($("s-period").value || 7);
    const end = new Date();
    const start = new Date(end.getTime() - days * 86400 * 1000);
    try {
      const s = await D.api("GET", "/api/worklist/stats" + D.query({ start: start.toISOString(), end: end.toISOString() }));
      for (const dd of D.$$("[data-stat]", box)) {
        const value = s[dd.dataset.stat];
        dd.textContent = dd.dataset.stat === "median_first_callback_s" ? (value === null ? "–" : D.fmtDuration(value)) : D.fmtNumber(value);
      }
    } catch (err) {
      fail(err);
    }
  }

  async function loadQueues() {
    const select = form.elements.queue;
    const table = $("queues");
    let queues = [];
    try {
      queues = await D.api("GET", "/api/inbound/queues");
    } catch (err) {
      fail(err);
      return;
    }
    const keep = select.dataset.value || select.value;
    select.replaceChildren(D.h("option", { value: "" }, D.t("app.all")), ...queues.map((q) => D.h("option", { value: q.queue }, q.queue)));
    select.value = keep;
    if (!table) return;
    let campaigns = [];
    try {
      campaigns = D.items(await D.api("GET", "/api/campaigns"));
    } catch (err) {
      D.showError($("queues-error"), err);
    }
    const rows = queues.map((q) => {
      const pick = D.h(
        "select",
        { "aria-label": `${D.t("worklist.campaign")}: ${q.queue}` },
        D.h("option", { value: "" }, D.t("worklist.no_campaign")),
        ...campaigns.map((c) => D.h("option", { value: c.id }, c.name))
      );
      pick.value = q.campaign_id ? String(q.campaign_id) : "";
      const save = D.h("button", { type: "button", class: "small" }, D.t("app.save"));
      save.addEventListener("click", async () => {
        await D.busy(save, async () => {
          try {
            if (pick.value) await D.api("PUT", `/api/inbound/queues/${encodeURIComponent(q.queue)}`, { campaign_id: Number(pick.value) });
            else if (q.campaign_id) await D.api("DELETE", `/api/inbound/queues/${encodeURIComponent(q.queue)}`);
            D.showError($("queues-error"), null);
            say(D.t("worklist.queue_saved", { queue: q.queue }));
            await loadQueues();
          } catch (err) {
            D.showError($("queues-error"), err);
          }
        });
      });
      return D.h("tr", { dataset: { queue: q.queue } }, D.h("td", {}, q.queue), D.h("td", {}, pick), D.h("td", { class: "actions" }, save));
    });
    D.fillTable(table, rows);
  }

  D.wirePaging(form, (next) => {
    page = next(page);
    load();
  });
  if ($("s-period")) $("s-period").addEventListener("change", loadStats);

  fromAddress();
  loadQueues().then(load);
  loadStats();
  // A new miss, a caller who got through, a callback's outcome or another person's action
  // shows at once; the counter is also checked each minute in case the stream is down.
  const refresh = D.throttle(async () => {
    await load();
    await refreshCount();
  }, 1000);
  D.live({ follow: "worklist" }, { worklist: refresh });
  setInterval(refreshCount, 60000);
})();
