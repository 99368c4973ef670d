/* The live dashboard: GET /api/dashboard (a line per campaign) and /api/dashboard/{id}
   (figures, abandonment against the cap, agents, the last hour), kept live by /api/live. */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  let campaignId = params.get("campaign") ? Number(params.get("campaign")) : null;
  let source = null;
  let agents = new Map(); // agent id → row data

  const pick = (obj, ...names) => {
    for (const n of names) if (obj && obj[n] !== undefined && obj[n] !== null) return obj[n];
    return null;
  };

  /* ---- the campaign picker and the all-campaigns table ------------------------------ */

  async function loadOverview() {
    let lines;
    try {
      lines = D.items(await D.api("GET", "/api/dashboard"));
    } catch (err) {
      D.showError($("dash-error"), err);
      return [];
    }
    const select = $("dash-campaign");
    select.replaceChildren(...lines.map((l) => D.h("option", { value: lineId(l) }, lineName(l))));
    $("dash-empty").hidden = lines.length > 0;
    D.fillTable(
      $("all-campaigns"),
      lines.map((l) => {
        const live = l.live || l.stats || l;
        const agentsByPhase = live.agents || {};
        const loggedIn = Object.entries(agentsByPhase)
          .filter(([phase]) => phase !== "logged_out")
          .reduce((s, [, n]) => s + Number(n || 0), 0);
        const calls = live.calls || {};
        return D.h(
          "tr",
          { dataset: { campaign: lineId(l) } },
          D.h("td", {}, D.h("a", { href: "?campaign=" + lineId(l) }, lineName(l))),
          D.h("td", {}, D.badge("state", pick(l, "state") || pick(live, "state"))),
          D.h("td", { class: "num" }, D.fmtNumber(loggedIn)),
          D.h("td", { class: "num" }, D.fmtNumber(calls.ringing || 0)),
          D.h("td", { class: "num" }, D.fmtNumber(calls.talking || 0)),
          D.h("td", { class: "num" }, D.fmtNumber(pick(live, "dial_level") || 0)),
          D.h("td", { class: "num" }, D.fmtNumber(pick(live, "connected") || 0)),
        );
      }),
    );
    return lines;
  }
  const lineId = (l) => Number(pick(l, "campaign_id", "id", "campaign"));
  const lineName = (l) => pick(l, "name", "campaign_name") || "#" + lineId(l);

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

  function showDetail(data) {
    const campaign = data.campaign || {};
    const state = pick(campaign, "state") || pick(data, "state");
    const badge = $("dash-state");
    badge.dataset.state = state || "";
    badge.textContent = D.tv("campaign_state", state);
    showLive(data.live || data.stats || null);
    showAbandonment(data.abandonment || data.abandon || {}, pick(data, "cap", "abandon_cap"));
    agents = new Map();
    for (const a of data.agents || []) agents.set(Number(pick(a, "id", "agent_id", "agent")), a);
    showAgents();
    const series = data.series || data.last_hour || [];
    window.DialerChart.render($("chart"), Array.isArray(series) ? series : series.points || []);
  }

  function showLive(live) {
    const byPhase = (live && live.agents) || {};
    for (const el of D.$$("[data-count]")) el.textContent = D.fmtNumber(byPhase[el.dataset.count] || 0);
    const calls = (live && live.calls) || {};
    for (const el of D.$$("[data-calls]")) el.textContent = D.fmtNumber(calls[el.dataset.calls] || 0);
    D.setText($("dial-level"), live ? D.fmtNumber(live.dial_level) : "–");
    D.setText($("occupancy"), live ? D.fmtPercent(live.occupancy) : "–");
    for (const el of D.$$("[data-total]")) el.textContent = live ? D.fmtNumber(live[el.dataset.total] || 0) : "–";
  }

  /** Abandonment per window against the cap: ok below 80 % of it, warn near it, over at it. */
  function showAbandonment(abandon, capGiven) {
    const cap = Number(capGiven || abandon.cap || abandon.target || 0.03);
    D.setText($("abandon-cap"), D.t("dashboard.cap", { cap: D.fmtPercent(cap) }));
    for (const gauge of D.$$(".gauge")) {
      const w = abandon[gauge.dataset.window] || {};
      const rate = Number(pick(w, "rate", "abandon_rate") || 0);
      const dropped = Number(w.dropped || 0);
      const connected = Number(w.connected || 0);
      const level = rate >= cap ? "over" : rate >= cap * 0.8 ? "warn" : "ok";
      gauge.dataset.level = level;
      D.setText(gauge.querySelector(".gauge-value"), D.fmtPercent(rate));
      gauge.querySelector(".gauge-bar span").style.width = Math.min(100, (rate / (cap * 1.25)) * 100) + "%";
      D.setText(
        gauge.querySelector(".gauge-counts"),
        D.t("dashboard.abandon_counts", { dropped, connected }) + (level !== "ok" ? " — " + D.t("dashboard.level_" + level) : ""),
      );
      gauge.title = D.t("dashboard.level_" + level);
    }
  }

  function showAgents() {
    const rows = Array.from(agents.values())
      .sort((a, b) => String(a.name || a.login || "").localeCompare(String(b.name || b.login || "")))
      .map((a) => {
        const phase = pick(a, "phase", "state") || "logged_out";
        const since = pick(a, "since", "ts");
        return D.h(
          "tr",
          { dataset: { agent: pick(a, "id", "agent_id", "agent") } },
          D.h("td", {}, a.name || a.login || "#" + pick(a, "id", "agent_id", "agent")),
          D.h("td", {}, D.badge("phase", phase)),
          D.h("td", {}, since ? D.timeEl(since) : "–"),
          D.h("td", {}, phase === "paused" ? reason(a.pause_reason) : ""),
        );
      });
    D.fillTable($("dash-agents"), rows, $("dash-agents-empty"));
  }
  function reason(r) {
    if (!r) return "";
    const [code, ...rest] = String(r).split(": ");
    const key = "pause_reason." + code;
    const label = Object.prototype.hasOwnProperty.call(D.catalog, key) ? D.catalog[key] : code;
    return rest.length ? `${label}: ${rest.join(": ")}` : label;
  }

  /* ---- live -------------------------------------------------------------------------- */

  function openCampaign() {
    if (source) source.close();
    agents = new Map();
    loadDetail();
    source = D.live(
      { campaign: campaignId },
      {
        stats: (payload) => {
          if (Number(payload.campaign) !== campaignId) return;
          showLive(payload);
          const badge = $("dash-state");
          if (payload.state) {
            badge.dataset.state = payload.state;
            badge.textContent = D.tv("campaign_state", payload.state);
          }
        },
        agent: (payload) => {
          const id = Number(payload.agent);
          const known = agents.get(id);
          if (!known && Number(payload.campaign) !== campaignId) return;
          agents.set(id, Object.assign({}, known || { id }, { phase: payload.phase, pause_reason: payload.pause_reason, since: payload.ts }));
          showAgents();
        },
        call: (payload) => {
          if (Number(payload.campaign) === campaignId && payload.state === "ended") reloadDetail();
        },
      },
      D.liveIndicator($("live-dot")),
    );
  }

  (async function start() {
    const lines = await loadOverview();
    if (!lines.length) return;
    if (!campaignId || !lines.some((l) => lineId(l) === campaignId)) {
      const running = lines.find((l) => (pick(l, "state") || (l.live || {}).state) === "running");
      campaignId = lineId(running || lines[0]);
    }
    $("dash-campaign").value = String(campaignId);
    openCampaign();
    // Abandonment windows, the chart and the overview move slowly: refresh them now and then.
    setInterval(loadDetail, 30000);
    setInterval(loadOverview, 30000);
  })();
})();
