/* The live dashboard: GET /api/dashboard (a line per campaign) and /api/dashboard/{id}
   (figures, abandonment against the cap, agents, the last hour), kept live by /api/live:
   campaign figures and agent states change as the engine publishes them. */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  let campaignId = params.get("campaign") ? Number(params.get("campaign")) : null;
  let source = null;
  const agents = new Map(); // agent id → {agent_id, name, login, phase, pause_reason, pending}
  const since = new Map(); // agent id → when its current state began (from live events)

  /* ---- the campaign picker and the all-campaigns table ------------------------------ */

  const lineId = (l) => Number(l.campaign.id);
  const lineState = (l) => (l.live && l.live.state) || l.campaign.state;

  async function loadOverview() {
    let lines;
    try {
      lines = await D.api("GET", "/api/dashboard");
    } catch (err) {
      D.showError($("dash-error"), err);
      return [];
    }
    const select = $("dash-campaign");
    const chosen = select.value;
    select.replaceChildren(...lines.map((l) => D.h("option", { value: lineId(l) }, l.campaign.name)));
    if (chosen) select.value = chosen;
    $("dash-empty").hidden = lines.length > 0;
    D.fillTable(
      $("all-campaigns"),
      lines.map((l) => {
        const live = l.live || {};
        const loggedIn = Object.entries(live.agents || {})
          .filter(([phase]) => phase !== "logged_out")
          .reduce((s, [, n]) => s + Number(n || 0), 0);
        const calls = live.calls || {};
        return D.h(
          "tr",
          { dataset: { campaign: lineId(l) } },
          D.h("td", {}, D.h("a", { href: "?campaign=" + lineId(l) }, l.campaign.name)),
          D.h("td", {}, D.badge("state", lineState(l))),
          D.h("td", { class: "num" }, l.live ? D.fmtNumber(loggedIn) : "–"),
          D.h("td", { class: "num" }, l.live ? D.fmtNumber(calls.ringing) : "–"),
          D.h("td", { class: "num" }, l.live ? D.fmtNumber(calls.talking) : "–"),
          D.h("td", { class: "num" }, l.live ? D.fmtNumber(live.dial_level) : "–"),
          D.h("td", { class: "num" }, D.fmtNumber(l.connected_today)),
        );
      }),
    );
    return lines;
  }

  $("dash-campaign").addEventListener("change", () => {
    campaignId = Number($("dash-campaign").value);
    history.replaceState(null, "", "?campaign=" + campaignId);
    openCampaign();
  });

  /* ---- one campaign ---------------------------------------------------------------- */

  async function loadDetail() {
    if (!campaignId) return;
    try {
      const data = await D.api("GET", `/api/dashboard/${campaignId}`);
      D.showError($("dash-error"), null);
      $("dash-body").hidden = false;
      showDetail(data);
    } catch (err) {
      D.showError($("dash-error"), err);
    }
  }
  const reloadDetail = D.throttle(loadDetail, 5000);

  function showState(state) {
    const badge = $("dash-state");
    badge.dataset.state = state || "";
    badge.textContent = D.tv("campaign_state", state);
  }

  function showDetail(data) {
    showState((data.live && data.live.state) || data.campaign.state);
    showLive(data.live);
    showAbandonment(data.abandonment);
    D.showIdle($("dash-idle"), $("dash-idle-box"), data.idle);
    agents.clear();
    for (const a of data.agents) {
      agents.set(a.agent_id, a);
      // The engine knows when each phase began: the "since" column is right from the start.
      if (a.since && !since.has(a.agent_id)) since.set(a.agent_id, a.since);
    }
    showAgents();
    showCalls(data.calls || [], data.generated_at);
    // Today's figures from the call log: the same "connected" as the abandonment gauge and
    // the campaign list (the engine's own counters restart with it).
    for (const el of D.$$("[data-total]")) el.textContent = data.today ? D.fmtNumber(data.today[el.dataset.total] || 0) : "–";
    window.DialerChart.render($("chart"), data.series);
  }

  function showLive(live) {
    const byPhase = (live && live.agents) || {};
    for (const el of D.$$("[data-count]")) el.textContent = live ? D.fmtNumber(byPhase[el.dataset.count] || 0) : "–";
    const calls = (live && live.calls) || {};
    for (const el of D.$$("[data-calls]")) el.textContent = live ? D.fmtNumber(calls[el.dataset.calls] || 0) : "–";
    D.setText($("dial-level"), live ? D.fmtNumber(live.dial_level) : "–");
    D.setText($("occupancy"), live ? D.fmtPercent(live.occupancy) : "–");
    showAlerts(live);
  }

  /** Why the engine does not dial as it should: paused by itself, no seat, overloaded. */
  function showAlerts(live) {
    const box = $("dash-alerts");
    const notes = [];
    if (live && live.paused_reason) notes.push(D.t("dashboard.paused_reason", { reason: live.paused_reason }));
    for (const [code, message] of Object.entries((live && live.alerts) || {})) {
      notes.push(D.t("alert." + code, { message }));
    }
    box.replaceChildren(...notes.map((text) => D.h("li", {}, text)));
    box.hidden = notes.length === 0;
  }

  /** Abandonment per window against the cap: ok below 80 % of it, warn near it, over past it. */
  function showAbandonment(abandon) {
    const cap = Number(abandon.cap);
    D.setText($("abandon-cap"), D.t("dashboard.cap", { cap: D.fmtPercent(cap) }));
    for (const gauge of D.$$(".gauge")) {
      const w = abandon[gauge.dataset.window];
      const rate = Number(w.rate || 0);
      const level = w.over_cap || rate > cap ? "over" : rate >= cap * 0.8 && rate > 0 ? "warn" : "ok";
      gauge.dataset.level = level;
      D.setText(gauge.querySelector(".gauge-value"), D.fmtPercent(rate));
      gauge.querySelector(".gauge-bar span").style.width = Math.min(100, cap ? (rate / (cap * 1.25)) * 100 : 0) + "%";
      const dropped = D.tn("dashboard.dropped_n", w.dropped, { n: D.fmtNumber(w.dropped) });
      const connected = D.tn("dashboard.connected_n", w.connected, { n: D.fmtNumber(w.connected) });
      const counts = D.t("dashboard.abandon_counts", { dropped, connected });
      D.setText(gauge.querySelector(".gauge-counts"), level === "ok" ? counts : `${counts} — ${D.t("dashboard.level_" + level)}`);
      gauge.title = D.t("dashboard.level_" + level);
    }
  }

  function reason(r) {
    if (!r) return "";
    const [code, ...rest] = String(r).split(": ");
    const key = "pause_reason." + code;
    const label = Object.prototype.hasOwnProperty.call(D.catalog, key) ? D.catalog[key] : code;
    return rest.length ? `${label}: ${rest.join(": ")}` : label;
  }

  const collator = new Intl.Collator(D.locale, { numeric: true, sensitivity: "base" });
  const table = $("dash-agents");
  const limits = { paused: Number(table.dataset.longPause), wrap_up: Number(table.dataset.stuckWrapup) };
  const OVERDUE = { paused: "long_pause", wrap_up: "stuck_wrapup" };
  /** "long_pause" / "stuck_wrapup" when an agent has been paused / in wrap-up too long. */
  function overdue(phase, iso) {
    const when = D.parseDate(iso);
    if (!when || !limits[phase]) return "";
    return (Date.now() - when.getTime()) / 1000 > limits[phase] ? OVERDUE[phase] : "";
  }
  function actionButtons(a) {
    const make = (action) =>
      D.h("button", { type: "button", class: "small", dataset: { agentAction: action, agent: a.agent_id }, "aria-label": `${D.t("dashboard.force_" + action)}: ${a.name || a.login}` }, D.t("dashboard.force_" + action));
    return [a.phase !== "ready" && a.phase !== "talking" ? make("ready") : null, a.phase !== "paused" && a.phase !== "talking" ? make("pause") : null, make("logout")];
  }
  table.addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-agent-action]");
    if (!button) return;
    D.busy(button, async () => {
      try {
        await D.api("POST", `/api/dashboard/agents/${button.dataset.agent}/${button.dataset.agentAction}`);
        D.showError($("dash-error"), null);
        await loadDetail();
      } catch (err) {
        D.showError($("dash-error"), err);
      }
    });
  });

  function showAgents() {
    const rows = Array.from(agents.values())
      .filter((a) => a.phase !== "logged_out")
      .sort((a, b) => collator.compare(String(a.name || a.login), String(b.name || b.login)))
      .map((a) => {
        const from = since.get(a.agent_id);
        const pending = a.pending ? ` (${D.t("agent.pending_" + a.pending)})` : "";
        const late = overdue(a.phase, from);
        return D.h(
          "tr",
          { dataset: { agent: a.agent_id, phase: a.phase, overdue: late || null } },
          D.h("td", {}, a.name || a.login || "#" + a.agent_id),
          D.h("td", {}, D.badge("phase", a.phase), pending, late ? D.h("span", { class: "badge", dataset: { overdue: late } }, D.t("dashboard.overdue_" + late)) : null),
          D.h("td", { class: "num", dataset: { since: from || "" }, title: from ? D.fmtDateTime(from) : null }, from ? elapsed(from) : "–"),
          D.h("td", {}, a.phase === "paused" ? reason(a.pause_reason) : ""),
          D.h("td", { class: "actions" }, actionButtons(a)),
        );
      });
    D.fillTable($("dash-agents"), rows, $("dash-agents-empty"));
  }
  /** The calls up now: number (linked to its record), agent, state, time since the dial
      and since the person was connected, ticking. */
  function showCalls(calls, generatedAt) {
    const base = D.parseDate(generatedAt) || new Date();
    const start = (s) => (s === null || s === undefined ? "" : new Date(base.getTime() - s * 1000).toISOString());
    D.fillTable(
      $("dash-calls"),
      calls.map((c) => {
        const dialed = start(c.duration_s);
        const talked = start(c.talk_s);
        return D.h(
          "tr",
          { dataset: { call: c.call_id, state: c.state } },
          D.h("td", {}, c.record_id ? D.h("a", { href: `/records/${c.record_id}` }, c.phone) : c.phone),
          D.h("td", {}, c.agent || (c.agent_id ? "#" + c.agent_id : "–")),
          D.h("td", {}, D.h("span", { class: "badge", dataset: { callPhase: c.state } }, D.tv("call_phase", c.state))),
          D.h("td", { class: "num", dataset: { since: dialed } }, elapsed(dialed)),
          D.h("td", { class: "num", dataset: { since: talked } }, talked ? elapsed(talked) : "–"),
        );
      }),
      $("dash-calls-empty"),
    );
  }
  function elapsed(iso) {
    const when = D.parseDate(iso);
    return when ? D.fmtDuration((Date.now() - when.getTime()) / 1000) : "–";
  }
  setInterval(() => {
    for (const cell of D.$$("#dash-calls td[data-since]")) {
      if (cell.dataset.since) cell.textContent = elapsed(cell.dataset.since);
    }
    for (const cell of D.$$("#dash-agents td[data-since]")) {
      if (!cell.dataset.since) continue;
      cell.textContent = elapsed(cell.dataset.since);
      const row = cell.closest("tr");
      const late = overdue(row.dataset.phase, cell.dataset.since);
      if (late && row.dataset.overdue !== late) showAgents();
    }
  }, 1000);

  /* ---- live -------------------------------------------------------------------------- */

  function openCampaign() {
    if (source) source.close();
    agents.clear();
    since.clear();
    loadDetail();
    source = D.live(
      { campaign: campaignId },
      {
        stats: (payload) => {
          if (Number(payload.campaign) !== campaignId) return;
          showLive(payload);
          showState(payload.state);
        },
        agent: (payload) => {
          const id = Number(payload.agent);
          if (payload.campaign !== null && payload.campaign !== undefined && Number(payload.campaign) !== campaignId) return;
          const known = agents.get(id);
          if (!known || known.phase !== payload.phase) since.set(id, payload.ts);
          if (!known) {
            // Someone new on this campaign: the dashboard names them.
            agents.set(id, { agent_id: id, name: "#" + id, phase: payload.phase });
            reloadDetail();
          }
          Object.assign(agents.get(id), { phase: payload.phase, pause_reason: payload.pause_reason, pending: payload.pending });
          showAgents();
        },
        call: (payload) => {
          // Calls come and go: the live calls list (and the figures) follow.
          if (Number(payload.campaign) === campaignId) reloadDetail();
        },
      },
      D.liveIndicator($("live-dot")),
    );
  }

  (async function start() {
    const lines = await loadOverview();
    if (!lines.length) return;
    if (!campaignId || !lines.some((l) => lineId(l) === campaignId)) {
      const running = lines.find((l) => lineState(l) === "running");
      campaignId = lineId(running || lines[0]);
    }
    $("dash-campaign").value = String(campaignId);
    openCampaign();
    // Abandonment windows, the chart and the overview move slowly: refresh them now and then.
    setInterval(loadDetail, 30000);
    setInterval(loadOverview, 30000);
  })();
})();
