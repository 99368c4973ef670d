/* The reports page: one tab per report, filters kept in the page's address, an SVG bar chart
   and the report's table, whose cells link to the matching calls in the call log. The table
   is the API's (GET /api/reports/NAME), so the CSV/XLSX export holds exactly the same rows. */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  const form = $("filters");
  const LABELS = JSON.parse($("report-labels").textContent);
  const TABS = JSON.parse($("report-tab-list").textContent);
  const SUMMARY = JSON.parse($("report-summary-labels").textContent);
  const FILTERS = ["from", "to", "tz", "period", "by", "show", "view", "campaign", "agent", "group"];
  const DURATIONS = new Set(["talk_s", "wait_s", "wrapup_s", "talk_avg_s", "logged_in_s", "paused_s"]);
  const PERCENTS = new Set(["abandon_pct", "answer_pct", "dials_pct", "occupancy_pct"]);
  const TIMES = new Set(["first_at", "last_at"]);
  const OUTCOMES = new Set(["first_outcome", "last_outcome"]);
  const NS = "http://www.w3.org/2000/svg";
  let report = TABS[0];

  function today() {
    const d = new Date();
    const pad = (v) => String(v).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  }

  function fromAddress() {
    const q = new URLSearchParams(location.search);
    if (q.has("report") && TABS.includes(q.get("report"))) report = q.get("report");
    for (const name of FILTERS) {
      const input = form.elements[name];
      if (!input || !q.has(name)) continue;
      input.dataset.value = q.get(name);
      input.value = q.get(name);
    }
    if (!form.elements.from.value) form.elements.from.value = today();
    if (!form.elements.tz.value) form.elements.tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  }

  function params() {
    const out = {};
    for (const name of FILTERS) {
      const input = form.elements[name];
      if (input && input.value.trim() && !input.closest("[hidden]")) out[name] = input.value.trim();
    }
    return out;
  }

  function showTabs() {
    for (const a of document.querySelectorAll("#report-tabs a")) {
      if (a.dataset.report === report) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    for (const field of form.querySelectorAll("[data-for]")) {
      field.hidden = !field.dataset.for.split(" ").includes(report);
    }
    form.elements.report.value = report;
  }

  function svg(tag, attrs, ...children) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
    for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }

  /** Bars of `key` per point (labels under every few bars), with a native tooltip each. */
  function chart(points, key, label) {
    const W = 760, H = 260, L = 48, R = 8, T = 10, B = 34;
    const n = Math.max(points.length, 1);
    const max = Math.max(1, ...points.map((p) => Number(p[key] || 0)));
    const x = (i) => L + i * ((W - L - R) / n);
    const y = (v) => T + (H - T - B) * (1 - v / max);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, class: "chart-svg" });
    root.append(svg("title", {}, label));
    for (let k = 0; k <= 4; k += 1) {
      const v = (max * k) / 4;
      root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
      root.append(svg("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, D.fmtNumber(Math.round(v * 10) / 10)));
    }
    const every = Math.ceil(n / 16);
    points.forEach((p, i) => {
      const v = Number(p[key] || 0);
      const g = svg("g", { class: "bar" });
      g.append(svg("title", {}, `${p.label}: ${D.fmtNumber(v)}`));
      g.append(svg("rect", { x: x(i) + 1, y: y(v), width: Math.max(1, (W - L - R) / n - 2), height: Math.max(0, y(0) - y(v)), class: "s-dials" }));
      root.append(g);
      if (i % every === 0) root.append(svg("text", { x: x(i) + (W - L - R) / n / 2, y: H - 12, class: "axis", "text-anchor": "middle" }, p.label));
    });
    root.append(svg("line", { x1: L, x2: W - R, y1: y(0), y2: y(0), class: "axis-line" }));
    $("report-chart").replaceChildren(root);
  }

  function chartKey() {
    if (report === "time_of_day") return form.elements.show.value === "pct" ? "dials_pct" : "dials";
    if (report === "agents") return "connected";
    if (report === "customers") return "records";
    return "dials";
  }

  /* A column's heading; "pause:REASON" columns are the pause time of one reason. */
  function label(column) {
    if (column.startsWith("pause:")) return `${LABELS.pause_reason} ${D.tv("pause_reason", column.slice(6))}`;
    return LABELS[column] || column;
  }

  function cell(column, value) {
    if (value === null || value === undefined || value === "") return "–";
    if (DURATIONS.has(column) || column.startsWith("pause:")) return D.fmtDuration(value);
    if (PERCENTS.has(column)) return D.fmtNumber(value) + " %";
    if (TIMES.has(column)) return D.timeEl(value);
    if (OUTCOMES.has(column)) return D.tv("outcome", value);
    if (column === "system_status") return D.tv("system_status", value);
    if (value === "total") return LABELS.total;
    return typeof value === "number" ? D.fmtNumber(value) : String(value);
  }

  function render(data, by) {
    const table = data.table;
    const head = table.columns.map((c) => D.h("th", { scope: "col", class: table.rows.length && typeof table.rows[0][table.columns.indexOf(c)] === "number" ? "num" : "" }, c === "key" ? LABELS[by] || "" : label(c)));
    $("report-table").tHead.rows[0].replaceChildren(...head);
    const rows = table.rows.map((row, r) =>
      D.h(
        "tr",
        { class: row[0] === "total" ? "total" : "" },
        ...row.map((value, c) => {
          const link = table.links[r][c];
          const content = cell(table.columns[c], value);
          return D.h("td", { class: typeof value === "number" ? "num" : "", dataset: { col: table.columns[c] } }, link ? D.h("a", { href: link }, content) : content);
        }),
      ),
    );
    D.fillTable($("report-table"), rows, $("report-empty"));
    const key = chartKey();
    let points = data.chart;
    if (report === "statuses") points = points.map((p) => Object.assign({ dials: Object.entries(p).filter(([k]) => k !== "label").reduce((a, [, v]) => a + Number(v), 0) }, p));
    chart(points, key, `${LABELS[key] || key}`);
    const summary = [];
    for (const [k, v] of Object.entries(data.summary || {})) {
      if (SUMMARY[k] && typeof v === "number") summary.push(D.h("dt", {}, SUMMARY[k]), D.h("dd", { dataset: { summary: k } }, D.fmtNumber(v)));
    }
    $("report-summary").replaceChildren(...summary);
    $("report-note").hidden = report !== "agents";
  }

  async function load() {
    showTabs();
    const p = params();
    history.replaceState(null, "", D.query(Object.assign({ report }, p)));
    for (const format of ["csv", "xlsx"]) {
      const link = $("export-" + format);
      if (link) link.href = `/api/reports/${report}/export` + D.query(Object.assign({}, p, { format, show: null }));
    }
    let data;
    try {
      data = await D.api("GET", `/api/reports/${report}` + D.query(Object.assign({}, p, { show: null })));
      D.clearFormErrors(form);
      D.showError($("report-error"), null);
    } catch (err) {
      D.showFormErrors(form, err, $("report-error"));
      return;
    }
    render(data, p.by || "none");
  }

  async function fillSelect(select, path, label) {
    if (!select) return;
    try {
      const rows = D.items(await D.api("GET", path));
      const keep = select.dataset.value || select.value;
      select.append(...rows.map((r) => D.h("option", { value: r.id }, label(r))));
      select.value = keep;
    } catch (err) {
      /* a role without that list simply has no such filter options */
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  for (const a of document.querySelectorAll("#report-tabs a")) {
    a.addEventListener("click", (event) => {
      event.preventDefault();
      report = a.dataset.report;
      load();
    });
  }

  fromAddress();
  showTabs();
  Promise.all([
    fillSelect(form.elements.campaign, "/api/campaigns", (r) => r.name),
    fillSelect(form.elements.agent, "/api/agents", (r) => r.name || r.login),
    fillSelect(form.elements.group, "/api/groups", (r) => r.name),
  ]).then(load);
})();
