/* The dashboard's recent days (GET /api/reports/recent): today / 3 / 7 days for the chosen
   campaign, calls per day as bars, per agent, the last 20 answered and missed calls. */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  const days = $("recent-days");
  const campaign = $("dash-campaign");
  const NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, ...children) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
    for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }

  function chart(points) {
    const W = 420, H = 160, L = 36, B = 22, T = 8;
    const max = Math.max(1, ...points.map((p) => p.dials));
    const w = (W - L) / Math.max(points.length, 1);
    const y = (v) => T + (H - T - B) * (1 - v / max);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": D.t("recent.per_day"), class: "chart-svg" });
    root.append(svg("text", { x: L - 4, y: y(max) + 4, class: "axis", "text-anchor": "end" }, D.fmtNumber(max)));
    points.forEach((p, i) => {
      const g = svg("g", { class: "bar", "data-dials": p.dials });
      g.append(svg("title", {}, `${p.date}: ${p.dials}`));
      g.append(svg("rect", { x: L + i * w + 2, y: y(p.dials), width: Math.max(1, w - 4), height: Math.max(0, y(0) - y(p.dials)), class: "s-dials" }));
      root.append(g);
      root.append(svg("text", { x: L + i * w + w / 2, y: H - 6, class: "axis", "text-anchor": "middle" }, p.date.slice(5)));
    });
    root.append(svg("line", { x1: L, x2: W, y1: y(0), y2: y(0), class: "axis-line" }));
    $("recent-chart").replaceChildren(root);
  }

  function callRows(calls) {
    return calls.map((c) =>
      D.h(
        "tr",
        {},
        D.h("td", {}, D.timeEl(c.dial_at, true)),
        D.h("td", {}, c.phone),
        D.h("td", {}, c.agent_name || "–"),
        D.h("td", {}, D.tv("outcome", c.outcome)),
      ),
    );
  }

  async function load() {
    if (!campaign || !campaign.value) return;
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    let data;
    try {
      data = await D.api("GET", "/api/reports/recent" + D.query({ days: days.value, tz, campaign: campaign.value }));
      D.showError($("recent-error"), null);
    } catch (err) {
      D.showError($("recent-error"), err);
      return;
    }
    chart(data.per_day);
    D.fillTable(
      $("recent-agents"),
      data.per_agent.map((a) => D.h("tr", {}, D.h("td", {}, a.agent_name || "#" + a.agent_id), D.h("td", { class: "num" }, D.fmtNumber(a.connected)), D.h("td", { class: "num" }, D.fmtDuration(a.talk_s)))),
    );
    D.fillTable($("recent-answered"), callRows(data.last_answered));
    D.fillTable($("recent-missed"), callRows(data.last_missed));
  }

  days.addEventListener("change", load);
  if (campaign) {
    campaign.addEventListener("change", load);
    new MutationObserver(() => load()).observe(campaign, { childList: true });
  }
  setInterval(load, 60_000);
  load();
})();
