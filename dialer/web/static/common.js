/* Shared helpers of the pages: translations, the JSON API (cookie session + CSRF header),
   the live stream (SSE), dates in the browser's locale and time zone, small DOM helpers. */
"use strict";

(function () {
  const D = (window.Dialer = {});
  const body = document.body;
  D.lang = body.dataset.lang || "en";
  D.role = body.dataset.role || null;
  D.mayExport = body.dataset.mayExport === "true";
  const meta = document.querySelector('meta[name="csrf-token"]');
  D.csrf = meta ? meta.content : "";
  D.catalog = JSON.parse(document.getElementById("i18n").textContent);

  /* ---- translations ------------------------------------------------------------ */

  /** The text of `key` in the page's language, with {name} placeholders filled. */
  const fill = function (text, params) {
    if (!params) return text;
    return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  };
  D.t = function (key, params) {
    let text = Object.prototype.hasOwnProperty.call(D.catalog, key) ? D.catalog[key] : key;
    // a text with plural forms read without a count: its most general form
    if (Array.isArray(text)) text = text[text.length - 1];
    return fill(text, params);
  };
  /** The plural forms of the page's language in the catalog's order (gettext's index), from
      the server (Babel's CLDR data); the browser's Intl.PluralRules names the form of `n`. */
  D.pluralTags = (body.dataset.plural || "one other").split(" ");
  const pluralRules = new Intl.PluralRules({ en: "en-GB", pl: "pl-PL" }[D.lang] || D.lang);
  D.pluralIndex = function (n) {
    const index = D.pluralTags.indexOf(pluralRules.select(Number(n)));
    return index < 0 ? D.pluralTags.length - 1 : index;
  };
  /** The text of `key` in the form for the count `n` (Polish: 1 rekord, 2 rekordy, 5 rekordów),
      with {name} placeholders filled (pass the formatted count among them). */
  D.tn = function (key, n, params) {
    const forms = Object.prototype.hasOwnProperty.call(D.catalog, key) ? D.catalog[key] : key;
    if (!Array.isArray(forms)) return fill(forms, params);
    return fill(forms[Math.min(D.pluralIndex(n), forms.length - 1)], params);
  };
  /** A translated enum value (phase, outcome, system status…), or the value itself. */
  D.tv = function (prefix, value) {
    if (value === null || value === undefined || value === "") return "–";
    const key = prefix + "." + value;
    return Object.prototype.hasOwnProperty.call(D.catalog, key) ? D.catalog[key] : String(value);
  };

  /* ---- dates and numbers, in the browser's locale and time zone ------------------ */

  /** The locale of the page's language (the user's setting), never the browser's: a Polish
      user on an English browser reads Polish dates, and the other way round. */
  D.locale = { en: "en-GB", pl: "pl-PL" }[D.lang] || D.lang;
  const dateTimeFmt = new Intl.DateTimeFormat(D.locale, { dateStyle: "short", timeStyle: "medium" });
  const shortFmt = new Intl.DateTimeFormat(D.locale, { dateStyle: "short", timeStyle: "short" });
  const timeFmt = new Intl.DateTimeFormat(D.locale, { hour: "2-digit", minute: "2-digit" });
  const numberFmt = new Intl.NumberFormat(D.locale, { maximumFractionDigits: 2 });
  const pctFmt = new Intl.NumberFormat(D.locale, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 2 });

  D.parseDate = function (iso) {
    if (!iso) return null;
    let text = String(iso);
    // Times from the API are UTC; one without a zone is taken as UTC too.
    if (/^\d{4}-\d\d-\d\dT[\d:.]+$/.test(text)) text += "Z";
    const when = new Date(text);
    return isNaN(when.getTime()) ? null : when;
  };
  D.fmtDateTime = function (iso) {
    const when = D.parseDate(iso);
    return when ? dateTimeFmt.format(when) : "–";
  };
  D.fmtDateTimeShort = function (iso) {
    const when = D.parseDate(iso);
    return when ? shortFmt.format(when) : "–";
  };
  D.fmtTime = function (when) {
    return timeFmt.format(when);
  };
  D.fmtNumber = function (n) {
    return n === null || n === undefined || Number.isNaN(Number(n)) ? "–" : numberFmt.format(Number(n));
  };
  D.fmtPercent = function (ratio) {
    return ratio === null || ratio === undefined || Number.isNaN(Number(ratio)) ? "–" : pctFmt.format(Number(ratio));
  };
  /** Seconds as m:ss or h:mm:ss. */
  D.fmtDuration = function (seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return "–";
    let s = Math.max(0, Math.round(Number(seconds)));
    const h = Math.floor(s / 3600);
    s -= h * 3600;
    const m = Math.floor(s / 60);
    s -= m * 60;
    const pad = (v) => String(v).padStart(2, "0");
    return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
  };
  /** A datetime-local input's value as an ISO instant (the browser's zone), or null. */
  D.localInputToIso = function (value) {
    if (!value) return null;
    const when = new Date(value);
    return isNaN(when.getTime()) ? null : when.toISOString();
  };
  /** An ISO instant as a datetime-local value in the browser's zone. */
  D.isoToLocalInput = function (iso) {
    const when = D.parseDate(iso);
    if (!when) return "";
    const pad = (v) => String(v).padStart(2, "0");
    return `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())}T${pad(when.getHours())}:${pad(when.getMinutes())}`;
  };
  /**
   * A filter form's non-empty values by name (`dates`: names of datetime-local inputs, sent
   * as ISO instants), as a list page sends them to its API.
   */
  D.formFilters = function (form, names, dates) {
    const out = {};
    for (const name of names) {
      const input = form.elements[name];
      if (!input) continue;
      const value = input.value.trim();
      if (!value) continue;
      out[name] = dates && dates.has(name) ? D.localInputToIso(value) : value;
    }
    return out;
  };
  /** Fill a filter form from the page's address (a shared link); the page number asked. */
  D.filtersFromAddress = function (form, names, dates) {
    const q = new URLSearchParams(location.search);
    for (const name of names) {
      const input = form.elements[name];
      if (!input || !q.has(name)) continue;
      input.dataset.value = q.get(name);
      input.value = dates && dates.has(name) ? D.isoToLocalInput(q.get(name)) : q.get(name);
    }
    return Math.max(1, Number(q.get("page") || 1));
  };
  /** Fill every <time datetime> in `root` with the localized date. */
  D.localizeTimes = function (root) {
    for (const el of (root || document).querySelectorAll("time[datetime]")) {
      el.textContent = el.dataset.short ? D.fmtDateTimeShort(el.getAttribute("datetime")) : D.fmtDateTime(el.getAttribute("datetime"));
    }
  };

  /** A change's details as readable lines: "field: before → after" for {from, to} pairs and
      [before, after] lists (also under "changed"), "field: value" for the rest. */
  D.diff = function (details) {
    if (!details || typeof details !== "object" || Object.keys(details).length === 0) return "–";
    const show = (v) => {
      if (v === null || v === undefined || v === "") return "–";
      if (typeof v === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(v)) return D.fmtDateTimeShort(v);
      return typeof v === "object" ? JSON.stringify(v) : String(v);
    };
    const lines = [];
    const walk = (obj) => {
      for (const [key, value] of Object.entries(obj)) {
        if (key === "changed" && value && typeof value === "object" && !Array.isArray(value)) {
          walk(value);
        } else if (value && typeof value === "object" && !Array.isArray(value) && "from" in value && "to" in value) {
          lines.push(D.h("li", {}, D.h("b", {}, key), ": ", D.h("del", {}, show(value.from)), " → ", D.h("ins", {}, show(value.to))));
        } else if (Array.isArray(value) && value.length === 2 && key !== "ids") {
          lines.push(D.h("li", {}, D.h("b", {}, key), ": ", D.h("del", {}, show(value[0])), " → ", D.h("ins", {}, show(value[1]))));
        } else {
          lines.push(D.h("li", {}, D.h("b", {}, key), ": ", show(value)));
        }
      }
    };
    walk(details);
    return D.h("ul", { class: "diff" }, lines);
  };

  /** Why a campaign does not dial, one sentence per reason (GET … "idle": [{code, params}]). */
  D.idleText = function (reason) {
    const p = Object.assign({}, reason.params || {});
    if (reason.code === "nothing_due") {
      return p.next_due_at ? D.t("idle.nothing_due_at", { when: D.fmtDateTimeShort(p.next_due_at) }) : D.t("idle.nothing_due");
    }
    if (reason.code === "not_running") p.state = D.tv("campaign_state", p.state);
    if (reason.code === "outside_every_window" || reason.code === "no_agent_ready") {
      for (const k of ["due", "logged_in"]) if (k in p) p[k] = D.fmtNumber(p[k]);
    }
    if (reason.code === "outside_every_window") return D.tn("idle.outside_every_window", (reason.params || {}).due, p);
    return D.t("idle." + reason.code, p);
  };
  /** Fill a list (and show its box) with the reasons, or hide the box when there are none. */
  D.showIdle = function (list, box, reasons) {
    const items = (reasons || []).map((r) => D.h("li", { dataset: { idle: r.code } }, D.idleText(r)));
    list.replaceChildren(...items);
    box.hidden = items.length === 0;
  };

  /* ---- DOM --------------------------------------------------------------------- */

  /** Build an element: D.h("td", {class: "num"}, "text", child…). Text is never parsed as HTML. */
  D.h = function (tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") el.className = value;
      else if (name === "text") el.textContent = value;
      else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
      else if (name === "dataset") Object.assign(el.dataset, value);
      else if (value === true) el.setAttribute(name, "");
      else el.setAttribute(name, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  };
  D.$ = (sel, root) => (root || document).querySelector(sel);
  D.$$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  /** A <time> element showing an ISO date in the browser's locale (without seconds when short). */
  D.timeEl = function (iso, short) {
    if (!iso) return "–";
    return D.h("time", { datetime: iso, title: D.fmtDateTime(iso) }, short ? D.fmtDateTimeShort(iso) : D.fmtDateTime(iso));
  };
  D.badge = function (kind, value) {
    const attrs = { class: "badge" };
    attrs["data-" + kind] = value || "";
    return D.h("span", attrs, D.tv(kind === "state" ? "campaign_state" : kind, value));
  };
  D.fillTable = function (table, rows, emptyEl) {
    const tbody = table.tBodies[0];
    tbody.replaceChildren(...rows);
    if (emptyEl) emptyEl.hidden = rows.length > 0;
  };
  /** Show an import report (a list upload or a DNC import) in the page's #import-report box:
   *  counts, rejects by reason, notes, and the rejected rows with their line numbers. */
  D.showImportReport = function (report) {
    const byId = (id) => document.getElementById(id);
    const box = byId("import-report");
    box.hidden = false;
    for (const el of D.$$("[data-report]", box)) el.textContent = D.fmtNumber(report[el.dataset.report]);
    const reasons = Object.entries(report.rejected_by_reason || {});
    byId("import-reasons").replaceChildren(...reasons.map(([r, n]) => D.h("li", {}, `${D.tv("reject", r)}: ${D.fmtNumber(n)}`)));
    byId("import-notes").replaceChildren(...(report.notes || []).map((n) => D.h("li", {}, n)));
    const rejects = report.rejects || [];
    byId("rejects").hidden = rejects.length === 0;
    D.fillTable(
      byId("rejects"),
      rejects.map((r) =>
        D.h(
          "tr",
          {},
          D.h("td", { class: "num" }, r.line),
          D.h("td", {}, D.tv("reject", r.reason)),
          D.h("td", {}, r.phone || "–"),
          D.h("td", {}, r.detail || (r.values || []).join(", ")),
        ),
      ),
    );
    const more = Number(report.rejects_more || 0);
    byId("rejects-more").hidden = more <= 0;
    D.setText(byId("rejects-more"), D.tn("import.more", more, { count: D.fmtNumber(more) }));
  };
  /**
   * Wire a list page's filter form and pager: ``go(next)`` is called with a function from
   * the current page number (1-based) to the new one — 1 on filter or reset, one less or
   * one more on the pager buttons — and is expected to set it and load the list.
   */
  D.wirePaging = function (form, go) {
    const first = () => 1;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      go(first);
    });
    form.addEventListener("reset", () => setTimeout(() => go(first)));
    document.getElementById("page-prev").addEventListener("click", () => go((p) => Math.max(1, p - 1)));
    document.getElementById("page-next").addEventListener("click", () => go((p) => p + 1));
  };
  D.setText = function (el, text) {
    if (el) el.textContent = text;
  };

  /* ---- the API ------------------------------------------------------------------- */

  class ApiError extends Error {
    constructor(status, body) {
      const detail = body && body.detail !== undefined ? body.detail : "";
      super(typeof detail === "string" ? detail : JSON.stringify(detail));
      this.status = status;
      this.error = (body && body.error) || "http_error";
      this.detail = this.message;
      this.problems = (body && body.problems) || [];
      this.body = body || {};
    }
  }
  D.ApiError = ApiError;
  const PENDING = "dialer.pending";

  /** Call the API: `D.api("POST", "/api/x", {json})` → the JSON answer, or throws ApiError. */
  D.api = async function (method, path, payload, options) {
    const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = D.csrf;
    if (payload instanceof FormData) {
      init.body = payload;
    } else if (payload !== undefined && payload !== null) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    if (options && options.signal) init.signal = options.signal;
    let response;
    try {
      response = await fetch(path, init);
    } catch (exc) {
      if (exc && exc.name === "AbortError") throw exc;
      throw new ApiError(0, { error: "network", detail: D.t("error.network") });
    }
    if (response.status === 401 && D.role) {
      // The session ended: keep the change being sent (JSON only), sign in again, come back
      // here, and send it then (see "replay" below).
      if (method !== "GET" && !(payload instanceof FormData)) {
        try {
          sessionStorage.setItem(PENDING, JSON.stringify({ method, path, payload: payload === undefined ? null : payload, page: location.pathname }));
        } catch (exc) {
          /* storage full or off: the change is lost, as before */
        }
      }
      window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
      throw new ApiError(401, { error: "unauthorized", detail: D.t("error.unauthorized") });
    }
    if (response.status === 204) return null;
    let data = null;
    const type = response.headers.get("content-type") || "";
    if (type.includes("json")) data = await response.json();
    else data = { detail: await response.text() };
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  };
  /** A change sent while the session had ended, sent again once signed in on its page. */
  async function replay() {
    let pending = null;
    try {
      pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
    } catch (exc) {
      pending = null;
    }
    if (!pending || !D.role || pending.page !== location.pathname) return;
    sessionStorage.removeItem(PENDING);
    const note = D.h("p", { class: "ok", id: "replayed", role: "status" });
    const main = document.querySelector("main") || document.body;
    main.prepend(note);
    try {
      await D.api(pending.method, pending.path, pending.payload);
      note.textContent = D.t("app.replayed");
      document.dispatchEvent(new CustomEvent("dialer:replayed"));
    } catch (err) {
      note.className = "error";
      note.textContent = D.t("app.replay_failed") + " " + D.errorText(err);
    }
  }

  /** The items of a list answer (a plain array, or an object with `items`). */
  D.items = function (data) {
    if (Array.isArray(data)) return data;
    if (data && Array.isArray(data.items)) return data.items;
    return [];
  };
  /** A query string from an object, skipping empty values. */
  D.query = function (params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== null && v !== undefined && v !== "") q.set(k, v);
    }
    const s = q.toString();
    return s ? "?" + s : "";
  };

  /** What to say about an API error, in the page's language (the server's detail kept). */
  D.errorText = function (err) {
    if (!(err instanceof ApiError)) return D.t("error.unexpected") + (err && err.message ? ": " + err.message : "");
    const known = {
      0: "error.network",
      401: "error.unauthorized",
      403: "error.forbidden",
      404: "error.not_found",
      409: "error.refused",
      422: "error.invalid",
      503: "error.unavailable",
    };
    const key = "error." + err.error;
    let lead = Object.prototype.hasOwnProperty.call(D.catalog, key) ? D.catalog[key] : null;
    if (!lead) lead = D.t(known[err.status] || (err.status >= 500 ? "error.server" : "error.refused"));
    if (err.status === 0 || !err.detail || err.detail === lead) return lead;
    if (err.problems.length) {
      return lead + " " + err.problems.map((p) => `${D.fieldLabel(p.field)}: ${D.problemText(p)}`).join("; ");
    }
    // "status_id: …" from the server reads as "<the field's label>: …".
    const named = /^([a-z_][a-z0-9_.]*): (.*)$/s.exec(err.detail);
    return lead + " " + (named ? `${D.fieldLabel(named[1])}: ${named[2]}` : err.detail);
  };
  /** A validation problem in the page's language: by its type (pydantic's, with the limit
      it names), else our own sentence; never the validator's English wording. */
  const PROBLEMS = {
    missing: (p) => D.t("problem.required", p),
    int_parsing: (p) => D.t("problem.whole_number", p),
    int_type: (p) => D.t("problem.whole_number", p),
    int_from_float: (p) => D.t("problem.whole_number", p),
    float_parsing: (p) => D.t("problem.number", p),
    float_type: (p) => D.t("problem.number", p),
    bool_parsing: (p) => D.t("problem.yes_no", p),
    bool_type: (p) => D.t("problem.yes_no", p),
    string_too_long: (p, n) => D.tn("problem.too_long", n, p),
    string_too_short: (p, n) => D.tn("problem.too_short", n, p),
    too_long: (p, n) => D.tn("problem.too_many", n, p),
    greater_than_equal: (p) => D.t("problem.at_least", p),
    less_than_equal: (p) => D.t("problem.at_most", p),
    greater_than: (p) => D.t("problem.more_than", p),
    less_than: (p) => D.t("problem.less_than", p),
    enum: (p) => D.t("problem.choice", p),
    literal_error: (p) => D.t("problem.choice", p),
    datetime_parsing: (p) => D.t("problem.datetime", p),
    datetime_from_date_parsing: (p) => D.t("problem.datetime", p),
    datetime_type: (p) => D.t("problem.datetime", p),
    timezone_aware: (p) => D.t("problem.datetime", p),
    date_parsing: (p) => D.t("problem.date", p),
    time_parsing: (p) => D.t("problem.time", p),
    json_invalid: (p) => D.t("problem.invalid", p),
    string_type: (p) => D.t("problem.text", p),
    dict_type: (p) => D.t("problem.invalid", p),
    list_type: (p) => D.t("problem.invalid", p),
    model_attributes_type: (p) => D.t("problem.invalid", p),
    extra_forbidden: (p) => D.t("problem.unknown_field", p),
    string_pattern_mismatch: (p) => D.t("problem.invalid", p),
  };
  D.problemText = function (problem) {
    if (problem && typeof problem === "object") {
      const say = PROBLEMS[problem.type];
      const ctx = problem.ctx || {};
      if (say) {
        const limit = ["max_length", "min_length", "ge", "le", "gt", "lt"].map((k) => ctx[k]).find((v) => v !== undefined);
        return say({ limit: limit === undefined ? "" : D.fmtNumber(limit) }, limit);
      }
      // a status the campaign's rules refused, by its code (catalog key rule.<code>)
      if (problem.type === "status_rule") {
        const key = "rule." + ctx.code;
        return Object.prototype.hasOwnProperty.call(D.catalog, key) ? D.t(key, ctx) : String(problem.problem || "");
      }
      if (problem.type === "value_error" || problem.type === "assertion_error") {
        return String(problem.problem || "").replace(/^(Value|Assertion) error, /, "");
      }
      return problem.type ? D.t("problem.invalid") : String(problem.problem || "");
    }
    return problem === "Field required" ? D.t("problem.required") : String(problem);
  };
  /** A field's name as a person reads it: its label on the page, a known name, or words. */
  D.fieldLabel = function (field) {
    const name = String(field || "").replace(/^(body|query|path|form)\./, "");
    const input = document.querySelector(`[name="${CSS.escape(name.split(".")[0])}"]`);
    const label = input && input.id ? document.querySelector(`label[for="${CSS.escape(input.id)}"]`) : null;
    if (label && label.textContent.trim()) return label.textContent.trim();
    const base = name.split(".")[0];
    if (Object.prototype.hasOwnProperty.call(D.catalog, "field." + base)) return D.t("field." + base);
    return name.replace(/[._]/g, " ");
  };

  /** Show an error in `el` (or clear it with null). */
  D.showError = function (el, err) {
    if (!el) return;
    el.textContent = err ? (typeof err === "string" ? err : D.errorText(err)) : "";
  };
  /** Clear a form's field errors and messages. */
  D.clearFormErrors = function (form) {
    for (const el of D.$$("[data-error-for]", form)) el.textContent = "";
    for (const el of D.$$("[aria-invalid]", form)) el.removeAttribute("aria-invalid");
  };
  /**
   * Show an API error next to the fields it names (422 problems, or a 400 detail starting
   * with "field: "); the rest goes to `generalEl`. Returns true when a field was named.
   */
  D.showFormErrors = function (form, err, generalEl) {
    D.clearFormErrors(form);
    let named = false;
    const mark = (field, text) => {
      const name = String(field || "").replace(/^(body|query|path|form)\./, "").split(".")[0];
      const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
      if (!slot) return false;
      slot.textContent = slot.textContent ? slot.textContent + " " + text : text;
      const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
      return true;
    };
    if (err instanceof ApiError) {
      for (const p of err.problems) {
        if (mark(p.field, D.problemText(p))) named = true;
      }
      if (!err.problems.length) {
        const m = /^([a-z_][a-z0-9_.]*): (.*)$/s.exec(err.detail || "");
        if (m && mark(m[1], m[2])) named = true;
      }
    }
    D.showError(generalEl, named ? D.t("error.see_fields") : err);
    if (named) {
      const first = form.querySelector('[aria-invalid="true"]');
      if (first) first.focus();
    }
    return named;
  };

  /** Disable a button while `work` runs (no double submits). */
  D.busy = async function (button, work) {
    if (button) button.disabled = true;
    try {
      return await work();
    } finally {
      if (button) button.disabled = false;
    }
  };

  /* ---- live stream ------------------------------------------------------------------ */

  /**
   * Listen to /api/live: handlers by event name (stats, agent, call, screenpop, error);
   * each gets (payload, topic). `onState(true|false)` says whether the stream is open.
   * The browser reconnects by itself; returns the EventSource.
   */
  D.live = function (params, handlers, onState) {
    const source = new EventSource("/api/live" + D.query(params || {}), { withCredentials: true });
    for (const [name, fn] of Object.entries(handlers)) {
      source.addEventListener(name, (event) => {
        let data = null;
        try {
          data = JSON.parse(event.data);
        } catch (exc) {
          return;
        }
        const payload = data && data.payload !== undefined ? data.payload : data;
        fn(payload, data && data.topic);
      });
    }
    if (onState) {
      source.addEventListener("open", () => onState(true));
      source.addEventListener("error", () => onState(source.readyState === EventSource.OPEN));
    }
    window.addEventListener("beforeunload", () => source.close());
    return source;
  };
  /** Mark a live indicator element on/off. */
  D.liveIndicator = function (el) {
    return (open) => {
      if (!el) return;
      el.dataset.live = open ? "on" : "off";
      el.textContent = D.t(open ? "live.on" : "live.off");
    };
  };

  /** Run `fn` at most once per `ms` (the last call wins). */
  D.throttle = function (fn, ms) {
    let timer = null;
    let again = false;
    return function () {
      if (timer) {
        again = true;
        return;
      }
      fn();
      timer = setTimeout(function tick() {
        timer = null;
        if (again) {
          again = false;
          fn();
          timer = setTimeout(tick, ms);
        }
      }, ms);
    };
  };

  /* ---- every page -------------------------------------------------------------------- */

  const signOut = document.getElementById("sign-out");
  if (signOut) {
    signOut.addEventListener("click", async () => {
      try {
        await D.api("POST", "/api/auth/logout");
      } catch (exc) {
        /* signed out already */
      }
      window.location.assign("/login");
    });
  }
  D.localizeTimes();
  /** Settled once a change kept across an expired session was sent again (pages that show
      what it changed wait for it before loading). */
  D.ready = replay();
})();
