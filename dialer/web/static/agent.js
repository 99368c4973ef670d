/* The agent's desk: log in to a seat, ready / pause, the screen pop of the bridged call,
   the status form, own callbacks and own calls. State comes from GET /api/agent/state and
   is refreshed on every live event of this agent (SSE /api/live). */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  const DATED = new Set(["MY_RECORD", "NOT_BEFORE"]);
  const PAUSE_CODES = new Set(["break", "lunch", "training", "meeting", "technical", "other"]);

  let state = { phase: "logged_out" };
  let phaseSince = Date.now();
  let eventTs = null; // when the engine published the agent's latest state
  let statuses = [];
  let statusesCampaign = null;
  let savedFor = null; // the call whose status this agent already set
  let campaignNames = {};
  let historyPage = 1;

  /** A pause reason for people: "lunch: back at 1" → "Lunch: back at 1". */
  function reasonText(reason) {
    if (!reason) return "";
    const [code, ...rest] = String(reason).split(": ");
    const label = PAUSE_CODES.has(code) || code === "seat" || code === "seat_lost" ? D.t("pause_reason." + code) : code;
    return rest.length ? `${label}: ${rest.join(": ")}` : label;
  }
  D.reasonText = reasonText;

  /** A desk refusal in the page's language: a dial refused for a known reason, or a
      status already given; else the usual error text. */
  function refusalText(err) {
    if (err && err.error === "status_already_set") return D.t("agent.status_twice");
    const reason = err && err.body && err.body.reason;
    if (err && err.error === "dial_refused" && reason && Object.prototype.hasOwnProperty.call(D.catalog, "dial_refused." + reason)) {
      return D.t("dial_refused." + reason);
    }
    return D.errorText(err);
  }

  /* ---- state ------------------------------------------------------------------------ */

  // The element showing why the state could not be read, if any: a later successful read
  // clears that message only, never the refusal of an action the agent just took.
  let stateErrorEl = null;
  async function loadState() {
    try {
      const next = await D.api("GET", "/api/agent/state");
      if (stateErrorEl) D.showError(stateErrorEl, null);
      stateErrorEl = null;
      setState(next || { phase: "logged_out" });
    } catch (err) {
      // Still offer the login form (and the reason it may fail) when the state is unknown.
      if (state.phase === "logged_out" && $("login-seat").hidden) setState({ phase: "logged_out" });
      stateErrorEl = state.phase === "logged_out" ? $("login-seat-error") : $("seat-error");
      D.showError(stateErrorEl, err);
    }
  }
  const refresh = D.throttle(loadState, 300);

  function setState(next) {
    if (next.phase !== state.phase) {
      const published = D.parseDate(eventTs);
      phaseSince = published ? Math.min(Date.now(), published.getTime()) : Date.now();
      // A call ended or began: its row and any callback show in the lists soon after.
      if (state.phase !== "logged_out" || next.phase !== "logged_out") refreshLists();
    }
    const previousCall = state.call && state.call.call_id;
    state = next;
    const loggedOut = !next.phase || next.phase === "logged_out";
    $("login-seat").hidden = !loggedOut;
    $("seat-live").hidden = loggedOut;
    if (loggedOut) {
      loadCampaigns();
    } else {
      const phase = $("phase");
      phase.dataset.phase = next.phase;
      phase.textContent = D.tv("phase", next.phase);
      $("pending").textContent = next.pending ? D.t("agent.pending_" + next.pending) : "";
      $("pause-reason").textContent = next.phase === "paused" ? reasonText(next.pause_reason) : "";
      $("live-campaign").textContent = campaignNames[next.campaign] || (next.campaign_name || (next.campaign ? "#" + next.campaign : "–"));
      $("live-seat").textContent = next.seat || "–";
      $("btn-ready").disabled = next.phase !== "paused";
      $("btn-dial").disabled = next.phase !== "ready" || !!next.pending;
      $("btn-pause").disabled = next.pending === "paused" || (next.phase === "paused" && !next.pending);
      tick();
    }
    const call = next.call || null;
    showCall(call);
    showPreview(loggedOut ? null : next);
    if (call && call.call_id !== previousCall) {
      D.showError($("status-error"), null);
      D.setText($("call-ok"), "");
    }
    showStatusForm(call, next);
  }

  function tick() {
    if (state.phase && state.phase !== "logged_out") {
      $("phase-since").textContent = D.fmtDuration((Date.now() - phaseSince) / 1000);
    }
  }
  setInterval(tick, 1000);

  /* ---- login to a seat ------------------------------------------------------------- */

  async function loadCampaigns() {
    const select = $("seat-campaign");
    try {
      const list = D.items(await D.api("GET", "/api/campaigns")).filter(
        (c) => !c.state || c.state === "running" || c.state === "paused",
      );
      const chosen = select.value;
      select.replaceChildren(
        ...list.map((c) => D.h("option", { value: c.id }, `${c.name} (${D.tv("campaign_state", c.state)})`)),
      );
      for (const c of list) campaignNames[c.id] = c.name;
      if (chosen) select.value = chosen;
      $("no-campaigns").hidden = list.length > 0;
      $("btn-login").disabled = list.length === 0;
    } catch (err) {
      D.showError($("login-seat-error"), err);
    }
  }

  $("login-seat").addEventListener("submit", async (event) => {
    event.preventDefault();
    const campaign = Number($("seat-campaign").value);
    if (!campaign) {
      D.showError($("login-seat-error"), D.t("agent.pick_campaign"));
      return;
    }
    const seat = $("seat-seat").value.trim();
    await D.busy($("btn-login"), async () => {
      try {
        const answer = await D.api("POST", "/api/agent/login", seat ? { campaign, seat } : { campaign });
        D.showError($("login-seat-error"), null);
        if (answer && answer.phase) setState(answer);
        else await loadState();
      } catch (err) {
        D.showError($("login-seat-error"), err);
      }
    });
  });

  async function act(button, path, payload) {
    await D.busy(button, async () => {
      try {
        const answer = await D.api("POST", path, payload);
        D.showError($("seat-error"), null);
        if (answer && answer.phase) setState(answer);
        else await loadState();
      } catch (err) {
        D.showError($("seat-error"), err);
      }
    });
  }
  $("btn-ready").addEventListener("click", () => act($("btn-ready"), "/api/agent/ready"));
  $("btn-logout").addEventListener("click", () => act($("btn-logout"), "/api/agent/logout"));
  $("pause-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const code = $("pause-reason-select").value;
    const text = $("pause-text").value.trim();
    if (code === "other" && !text) {
      D.showError($("seat-error"), D.t("agent.pause_text_needed"));
      $("pause-text").focus();
      return;
    }
    act($("btn-pause"), "/api/agent/pause", { reason: text ? `${code}: ${text}` : code });
  });

  /* ---- the call: screen pop and status form ------------------------------------------- */

  function showCall(call) {
    $("no-call").hidden = !!call;
    $("screenpop").hidden = !call;
    if (!call) return;
    const record = call.record || {};
    $("pop-name").textContent = record.name || D.t("agent.no_name");
    const phone = $("pop-phone");
    phone.textContent = record.phone || "";
    phone.href = record.phone ? "tel:" + record.phone : "#";
    const rows = [
      [D.t("agent.attempt"), D.fmtNumber(record.attempt)],
      [D.t("col.system_status"), D.tv("system_status", record.system_status)],
      [D.t("agent.call_phase"), D.tv("call_phase", call.phase)],
    ];
    if (call.connected_at) rows.push([D.t("agent.connected_at"), D.fmtDateTime(call.connected_at)]);
    const fields = Object.assign({}, record.fields || {});
    // A callback request (made on a website or in a CRM) says so, with its source.
    const source = fields.request_source;
    delete fields.request_source;
    delete fields.callback_request;
    $("pop-request").hidden = !source;
    $("pop-request").textContent = source ? D.t("agent.request_from", { source: String(source) }) : "";
    for (const [key, value] of Object.entries(fields)) rows.push([key, value === null ? "" : String(value)]);
    $("pop-fields").replaceChildren(...rows.flatMap(([k, v]) => [D.h("dt", {}, k), D.h("dd", {}, v)]));
    $("btn-hangup").hidden = state.phase !== "talking";
    showCard("pop", call.card);
  }

  /** The record's card: list, status, the callback's owner, date and note, its calls. */
  function showCard(prefix, card) {
    const facts = [];
    const historyRows = [];
    let note = "";
    if (card) {
      if (card.list_name) facts.push([D.t("agent.list"), card.list_name]);
      facts.push([D.t("col.status"), card.status || D.tv("system_status", card.system_status)]);
      if (card.owner) facts.push([D.t("agent.callback_owner"), card.owner]);
      if (card.next_call_at) facts.push([D.t("agent.callback_at"), D.fmtDateTime(card.next_call_at)]);
      note = card.callback_note || "";
      for (const c of card.history || []) {
        historyRows.push(
          D.h(
            "tr",
            {},
            D.h("td", {}, D.timeEl(c.dial_at, true)),
            D.h("td", {}, c.agent || "–"),
            D.h("td", {}, c.outcome ? D.tv("outcome", c.outcome) : D.t("calls.in_progress")),
            D.h("td", {}, c.status || "–"),
            D.h("td", { class: "note" }, c.note || ""),
          ),
        );
      }
    }
    $(prefix + "-card-facts").replaceChildren(...facts.flatMap(([k, v]) => [D.h("dt", {}, k), D.h("dd", {}, v)]));
    const noteEl = $(prefix + "-callback-note");
    noteEl.hidden = !note;
    noteEl.textContent = note ? D.t("agent.callback_note") + ": " + note : "";
    $(prefix + "-history").tBodies[0].replaceChildren(...historyRows);
    $(prefix + "-history-empty").hidden = historyRows.length > 0;
  }

  /* ---- preview campaigns: the next record, dialed or skipped by the agent ---------- */

  let previewDeadline = null;
  let previewThen = "skip";
  function tickPreview() {
    const el = $("preview-timeout");
    el.hidden = previewDeadline === null || $("preview-record").hidden;
    if (el.hidden) return;
    const left = Math.max(0, Math.round((previewDeadline - Date.now()) / 1000));
    el.textContent = previewThen === "dial" ? D.t("agent.preview_dials_in", { s: left }) : D.t("agent.preview_skips_in", { s: left });
  }
  setInterval(tickPreview, 1000);

  function showPreview(snapshot) {
    const preview = snapshot && snapshot.dial_mode === "preview";
    $("preview-card").hidden = !preview;
    if (!preview) return;
    const record = snapshot.preview;
    $("preview-record").hidden = !record;
    $("preview-none").hidden = !!record;
    if (!record) return;
    previewDeadline = typeof snapshot.preview_left_s === "number" ? Date.now() + snapshot.preview_left_s * 1000 : null;
    previewThen = snapshot.preview_then || "skip";
    tickPreview();
    $("preview-name").textContent = record.name || D.t("agent.no_name");
    $("preview-phone").textContent = record.phone || "";
    const rows = [[D.t("agent.attempt"), D.fmtNumber(record.attempt)]];
    for (const [key, value] of Object.entries(record.fields || {})) rows.push([key, value === null ? "" : String(value)]);
    $("preview-fields").replaceChildren(...rows.flatMap(([k, v]) => [D.h("dt", {}, k), D.h("dd", {}, v)]));
    showCard("preview", snapshot.preview_card);
  }

  async function deskAction(button, path, payload, errorEl) {
    await D.busy(button, async () => {
      try {
        const answer = await D.api("POST", path, payload);
        D.showError(errorEl, null);
        if (answer && answer.phase) setState(answer);
        else await loadState();
      } catch (err) {
        D.showError(errorEl, refusalText(err));
      }
    });
  }
  $("btn-preview-dial").addEventListener("click", () => deskAction($("btn-preview-dial"), "/api/agent/preview/dial", null, $("preview-error")));
  $("btn-preview-skip").addEventListener("click", () => deskAction($("btn-preview-skip"), "/api/agent/preview/skip", null, $("preview-error")));
  $("btn-hangup").addEventListener("click", () => deskAction($("btn-hangup"), "/api/agent/hangup", null, $("seat-error")));
  $("dial-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const number = $("dial-number").value.trim();
    if (!number) {
      D.showError($("seat-error"), D.t("agent.dial_number_needed"));
      $("dial-number").focus();
      return;
    }
    await deskAction($("btn-dial"), "/api/agent/dial", { number }, $("seat-error"));
    if (!$("seat-error").textContent) $("dial-number").value = "";
  });

  async function loadStatuses(campaign, provided) {
    if (Array.isArray(provided)) {
      statuses = provided;
      statusesCampaign = campaign;
      return;
    }
    if (statusesCampaign === campaign && statuses.length) return;
    try {
      statuses = D.items(await D.api("GET", `/api/campaigns/${campaign}/statuses`));
      statusesCampaign = campaign;
    } catch (err) {
      D.showError($("status-error"), err);
    }
  }

  async function showStatusForm(call, snapshot) {
    const card = $("status-card");
    const open = !!call && call.call_id !== savedFor && (snapshot.phase === "talking" || snapshot.phase === "wrap_up");
    if (!open) {
      if (!call || call.call_id !== savedFor) card.hidden = true;
      return;
    }
    await loadStatuses(call.campaign || snapshot.campaign, snapshot.statuses);
    const box = $("status-options");
    const chosen = (box.querySelector("input:checked") || {}).value;
    if (card.hidden || box.dataset.call !== call.call_id) {
      box.dataset.call = call.call_id;
      const offered = statuses.filter((s) => s.active !== false && s.hidden !== true);
      box.replaceChildren(
        ...offered.map((s) =>
          D.h(
            "label",
            { class: "option" },
            D.h("input", {
              type: "radio",
              name: "status",
              value: s.id,
              dataset: { system: s.system_status },
              checked: String(s.id) === chosen,
            }),
            " ",
            s.name,
            " ",
            D.h("small", { class: "muted" }, D.tv("system_status", s.system_status)),
          ),
        ),
      );
      if (!offered.length) box.append(D.h("p", { class: "muted" }, D.t("agent.no_statuses")));
      $("status-form").reset();
      D.clearFormErrors($("status-form"));
      updateDateField();
    }
    card.hidden = false;
  }

  function selectedStatus() {
    const input = $("status-options").querySelector("input:checked");
    return input ? { id: Number(input.value), system: input.dataset.system } : null;
  }
  function updateDateField() {
    const chosen = selectedStatus();
    const dated = !!chosen && DATED.has(chosen.system);
    $("date-field").hidden = !dated;
    $("status-date").required = dated;
    if (dated && !$("status-date").value) {
      // A sensible default: tomorrow at this hour, in the browser's zone.
      const when = new Date(Date.now() + 24 * 3600 * 1000);
      when.setMinutes(0, 0, 0);
      $("status-date").value = D.isoToLocalInput(when.toISOString());
    }
  }
  $("status-options").addEventListener("change", updateDateField);

  $("status-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = $("status-form");
    D.clearFormErrors(form);
    D.showError($("status-error"), null);
    const call = state.call;
    if (!call) {
      D.showError($("status-error"), D.t("agent.no_call"));
      return;
    }
    const chosen = selectedStatus();
    if (!chosen) {
      D.setText(form.querySelector('[data-error-for="status"]'), D.t("agent.pick_status"));
      const first = $("status-options").querySelector("input");
      if (first) first.focus();
      return;
    }
    const payload = { call_id: call.call_id, status: chosen.id, note: $("status-note").value.trim() };
    if (DATED.has(chosen.system)) {
      const iso = D.localInputToIso($("status-date").value);
      let problem = null;
      if (!iso) problem = D.t("agent.date_needed");
      else if (new Date(iso).getTime() <= Date.now()) problem = D.t("agent.date_future");
      if (problem) {
        D.setText(form.querySelector('[data-error-for="date"]'), problem);
        $("status-date").setAttribute("aria-invalid", "true");
        $("status-date").focus();
        return;
      }
      payload.date = iso;
    }
    await D.busy($("btn-status"), async () => {
      try {
        const answer = await D.api("POST", "/api/agent/status", payload);
        savedFor = call.call_id;
        $("status-card").hidden = true;
        D.setText($("call-ok"), D.t("agent.status_saved"));
        if (answer && answer.phase) setState(answer);
        else await loadState();
        // The engine writes the status right after answering: read the lists again.
        refreshLists();
        setTimeout(refreshLists, 1600);
      } catch (err) {
        if (err && err.error === "status_already_set") {
          savedFor = call.call_id;
          $("status-card").hidden = true;
          D.setText($("call-ok"), D.t("agent.status_twice"));
          return;
        }
        D.showFormErrors(form, err, $("status-error"));
      }
    });
  });

  /* ---- own callbacks and calls ----------------------------------------------------- */

  const campaignLabel = (row) => row.campaign_name || campaignNames[row.campaign_id] || "#" + row.campaign_id;

  function callBackButton(row) {
    const button = D.h("button", { type: "button", class: "small", dataset: { record: row.record_id } }, D.t("agent.call_back_now"));
    button.disabled = state.phase !== "ready" || state.campaign !== row.campaign_id;
    if (state.campaign && state.campaign !== row.campaign_id) button.title = D.t("agent.call_back_other_campaign");
    button.addEventListener("click", () => deskAction(button, `/api/agent/callbacks/${row.record_id}/dial`, null, $("callbacks-error")));
    return button;
  }

  async function loadCallbacks() {
    try {
      const rows = await D.api("GET", "/api/agent/callbacks");
      D.fillTable(
        $("callbacks"),
        rows.map((r) =>
          D.h(
            "tr",
            {},
            D.h("td", {}, D.timeEl(r.next_call_at, true)),
            D.h("td", {}, r.name || "–"),
            D.h("td", {}, r.phone || "–"),
            D.h("td", {}, campaignLabel(r)),
            D.h("td", {}, callBackButton(r)),
          ),
        ),
        $("callbacks-empty"),
      );
      D.showError($("callbacks-error"), null);
    } catch (err) {
      D.showError($("callbacks-error"), err);
    }
  }

  async function loadHistory(page) {
    historyPage = page;
    try {
      const data = await D.api("GET", "/api/agent/calls" + D.query({ page, page_size: 20 }));
      const rows = data.items.map((r) =>
        D.h(
          "tr",
          {},
          D.h("td", {}, D.timeEl(r.dial_at, true)),
          D.h("td", {}, r.phone || "–"),
          D.h("td", {}, campaignLabel(r)),
          D.h("td", {}, r.outcome ? D.tv("outcome", r.outcome) : D.t("calls.in_progress")),
          D.h("td", {}, r.status_name || "–"),
          D.h("td", { class: "num" }, D.fmtDuration(r.talk_s)),
        ),
      );
      const tbody = $("history").tBodies[0];
      if (page === 1) tbody.replaceChildren(...rows);
      else tbody.append(...rows);
      $("history-empty").hidden = tbody.rows.length > 0;
      const more = data.total_capped || tbody.rows.length < data.total;
      $("history-more").hidden = !more;
      D.showError($("history-error"), null);
    } catch (err) {
      D.showError($("history-error"), err);
    }
  }
  $("history-more").addEventListener("click", () => loadHistory(historyPage + 1));
  const refreshLists = D.throttle(() => {
    loadCallbacks();
    loadHistory(1);
  }, 1500);

  /* ---- live ------------------------------------------------------------------------- */

  D.live(
    {},
    {
      agent: (payload) => {
        eventTs = payload && payload.ts;
        refresh();
      },
      screenpop: refresh,
      preview: refresh,
      error: (payload) => D.showError($("seat-error"), D.t("error.refused") + " " + ((payload && payload.error) || "")),
    },
  );
  // A safety net should the stream be down for a while.
  setInterval(loadState, 15000);

  loadState();
  loadCallbacks();
  loadHistory(1);
})();
