/* A hand-written SVG chart of the last hour per minute: dials as bars, answered and
   connected as lines, dropped calls as red bars on the floor. No library. */
"use strict";

(function () {
  const D = window.Dialer;
  const NS = "http://www.w3.org/2000/svg";
  const W = 760;
  const H = 300;
  const PAD = { left: 40, right: 12, top: 12, bottom: 28 };

  function svg(tag, attrs, ...children) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
    for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }

  /** A "nice" step of the y axis's four intervals for `max` (1, 2, 5 × 10^n). */
  function niceStep(max) {
    const rough = Math.max(1, max / 4);
    const p = Math.pow(10, Math.floor(Math.log10(rough)));
    for (const m of [1, 2, 5, 10]) if (m * p >= rough) return m * p;
    return 10 * p;
  }

  /**
   * Draw `points` ([{at, dials, answered, connected, dropped}], oldest first) into
   * `container`, replacing what was there.
   */
  function render(container, points) {
    const n = Math.max(points.length, 1);
    const innerW = W - PAD.left - PAD.right;
    const innerH = H - PAD.top - PAD.bottom;
    const num = (p, k) => Number(p[k] || 0);
    const step = niceStep(Math.max(1, ...points.map((p) => Math.max(num(p, "dials"), num(p, "answered"), num(p, "connected")))));
    const max = step * 4;
    const x = (i) => PAD.left + (i + 0.5) * (innerW / n);
    const y = (v) => PAD.top + innerH - (v / max) * innerH;
    const barW = Math.max(2, (innerW / n) * 0.7);

    const totals = { dials: 0, answered: 0, connected: 0, dropped: 0 };
    for (const p of points) for (const k of Object.keys(totals)) totals[k] += num(p, k);
    const summary = D.t("chart.summary", {
      dials: totals.dials,
      answered: totals.answered,
      connected: totals.connected,
      dropped: totals.dropped,
    });
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": summary, class: "chart-svg" });
    root.append(svg("title", {}, summary));

    // grid and y axis
    for (let k = 0; k <= 4; k += 1) {
      const v = step * k;
      const yy = y(v);
      root.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: yy, y2: yy, class: "grid" }));
      root.append(svg("text", { x: PAD.left - 6, y: yy + 4, class: "axis", "text-anchor": "end" }, D.fmtNumber(v)));
    }
    // x axis labels every 10 minutes, and at the last minute when it is not too close
    let lastLabel = -99;
    points.forEach((p, i) => {
      const when = D.parseDate(p.at);
      const last = i === points.length - 1;
      if (when && ((when.getMinutes() % 10 === 0 && i - lastLabel > 4) || (last && i - lastLabel > 4))) {
        root.append(svg("text", { x: x(i), y: H - 8, class: "axis", "text-anchor": last ? "end" : "middle" }, D.fmtTime(when)));
        lastLabel = i;
      }
    });
    // dials as bars, each with a native tooltip
    points.forEach((p, i) => {
      const when = D.parseDate(p.at);
      const label = `${when ? D.fmtTime(when) : ""} — ${D.t("dashboard.dials")}: ${num(p, "dials")}, ${D.t("dashboard.answered")}: ${num(p, "answered")}, ${D.t("dashboard.connected")}: ${num(p, "connected")}, ${D.t("dashboard.dropped")}: ${num(p, "dropped")}`;
      const g = svg("g", { class: "bar" });
      g.append(svg("title", {}, label));
      g.append(svg("rect", { x: x(i) - barW / 2, y: y(num(p, "dials")), width: barW, height: Math.max(0, y(0) - y(num(p, "dials"))), class: "s-dials" }));
      if (num(p, "dropped") > 0) {
        g.append(svg("rect", { x: x(i) - barW / 2, y: y(num(p, "dropped")), width: barW, height: Math.max(2, y(0) - y(num(p, "dropped"))), class: "s-dropped" }));
      }
      root.append(g);
    });
    // answered and connected as lines
    for (const key of ["answered", "connected"]) {
      const d = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(num(p, key)).toFixed(1)}`).join(" ");
      if (d) root.append(svg("path", { d, class: "line s-" + key }));
    }
    root.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0), class: "axis-line" }));

    const legend = D.h(
      "ul",
      { class: "legend" },
      ...["dials", "answered", "connected", "dropped"].map((k) =>
        D.h("li", {}, D.h("span", { class: "key s-" + k, "aria-hidden": "true" }), `${D.t("dashboard." + k)} (${totals[k]})`),
      ),
    );
    container.replaceChildren(root, legend);
  }

  window.DialerChart = { render };
})();
