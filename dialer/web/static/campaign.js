/* The campaign editor: rules (create / edit), statuses offered, list upload with the import
   report and its rejects, start / pause / stop. */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  const root = $("campaign-root");
  const campaignId = root.dataset.campaignId ? Number(root.dataset.campaignId) : null;
  const admin = D.role === "admin";
  const form = $("rules-form");
  const DEFAULTS = {
    name: "",
    description: "",
    pacing_profile: "predictive",
    max_attempts: 5,
    max_wait_s: 2,
    retry_delays_s: { default: 3600, busy: 600, no_answer: 1800 },
    window_start: "09:00",
    window_end: "20:00",
    window_days: [1, 2, 3, 4, 5, 6],
    default_region: "PL",
    default_tz: null,
    wrapup_timeout_s: 120,
    wrapup_default_status_id: null,
    caller_id: null,
    hours_start: null,
    hours_end: null,
    hours_days: [1, 2, 3, 4, 5, 6, 7],
    hours_tz: "UTC",
    dial_mode: "predictive",
    preview_timeout_s: 0,
    preview_timeout_action: "skip",
    owner_absent_policy: "keep_waiting",
    owner_absent_release_min: 30,
  };
  let campaign = null;
  let offered = [];
  let dictionary = [];

  const pick = (obj, ...names) => {
    for (const n of names) if (obj && obj[n] !== undefined && obj[n] !== null) return obj[n];
    return null;
  };

  /* ---- rules ----------------------------------------------------------------------- */

  function fillForm(c) {
    const el = form.elements;
    for (const name of ["name", "description", "max_attempts", "max_wait_s", "window_start", "window_end", "default_region", "default_tz", "wrapup_timeout_s", "caller_id", "hours_start", "hours_end", "hours_tz", "dial_mode", "preview_timeout_s", "preview_timeout_action", "owner_absent_policy", "owner_absent_release_min"]) {
      if (el[name]) el[name].value = c[name] === null || c[name] === undefined ? "" : c[name];
    }
    ensureOption(el.pacing_profile, c.pacing_profile);
    el.pacing_profile.value = c.pacing_profile || "";
    for (const input of D.$$("[data-retry]", form)) {
      const v = (c.retry_delays_s || {})[input.dataset.retry];
      const unit = form.querySelector(`[data-retry-unit="${input.dataset.retry}"]`);
      // Shown in the largest unit that holds it whole (stored in seconds).
      const size = v === undefined ? 60 : v % 3600 === 0 && v >= 3600 ? 3600 : v % 60 === 0 ? 60 : 1;
      unit.value = String(size);
      input.value = v === undefined ? "" : v / size;
    }
    for (const name of ["window_days", "hours_days"]) {
      const days = new Set((c[name] || []).map(Number));
      for (const box of D.$$(`input[name="${name}"]`, form)) box.checked = days.has(Number(box.value));
    }
    const wrap = el.wrapup_default_status_id;
    wrap.dataset.value = c.wrapup_default_status_id || "";
    wrap.value = c.wrapup_default_status_id || "";
  }
  function ensureOption(select, value) {
    if (value && !Array.from(select.options).some((o) => o.value === value)) select.append(D.h("option", { value }, value));
  }

  function readForm() {
    const el = form.elements;
    const text = (name) => el[name].value.trim();
    const orNull = (name) => text(name) || null;
    const number = (name) => (text(name) === "" ? null : Number(text(name)));
    const retry = {};
    for (const input of D.$$("[data-retry]", form)) {
      const unit = Number(form.querySelector(`[data-retry-unit="${input.dataset.retry}"]`).value);
      if (input.value.trim() !== "") retry[input.dataset.retry] = Math.round(Number(input.value) * unit);
    }
    const days = (name) => D.$$(`input[name="${name}"]:checked`, form).map((b) => Number(b.value));
    const body = {
      name: text("name"),
      description: el.description.value,
      pacing_profile: el.pacing_profile.value,
      max_attempts: number("max_attempts"),
      max_wait_s: number("max_wait_s"),
      retry_delays_s: retry,
      window_start: text("window_start"),
      window_end: text("window_end"),
      window_days: days("window_days"),
      default_region: text("default_region").toUpperCase(),
      default_tz: orNull("default_tz"),
      wrapup_timeout_s: number("wrapup_timeout_s"),
      caller_id: orNull("caller_id"),
      hours_start: orNull("hours_start"),
      hours_end: orNull("hours_end"),
      hours_days: days("hours_days"),
      hours_tz: text("hours_tz") || "UTC",
      dial_mode: el.dial_mode.value || "predictive",
      preview_timeout_s: number("preview_timeout_s"),
      preview_timeout_action: el.preview_timeout_action.value || "skip",
      owner_absent_policy: el.owner_absent_policy.value,
      owner_absent_release_min: number("owner_absent_release_min"),
    };
    for (const k of ["max_attempts", "max_wait_s", "wrapup_timeout_s", "preview_timeout_s", "owner_absent_release_min"]) if (body[k] === null) delete body[k];
    const wrap = el.wrapup_default_status_id.value;
    if (wrap) body.wrapup_default_status_id = Number(wrap);
    else if (campaign && campaign.wrapup_default_status_id) body.wrapup_default_status_id = null;
    return body;
  }

  async function loadProfiles() {
    const select = form.elements.pacing_profile;
    try {
      const profiles = D.items(await D.api("GET", "/api/pacing/profiles"));
      const current = select.value;
      select.replaceChildren(
        ...profiles.map((p) => {
          const name = typeof p === "string" ? p : p.name;
          const kind = typeof p === "string" ? null : pick(p, "kind", "mode");
          return D.h("option", { value: name }, kind ? `${name} (${D.tv("pacing_mode", kind)})` : name);
        }),
      );
      ensureOption(select, current || (campaign ? campaign.pacing_profile : DEFAULTS.pacing_profile));
      select.value = current || (campaign ? campaign.pacing_profile : DEFAULTS.pacing_profile);
    } catch (err) {
      ensureOption(select, campaign ? campaign.pacing_profile : DEFAULTS.pacing_profile);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!admin) return;
    D.setText($("rules-ok"), "");
    const body = readForm();
    await D.busy($("btn-save-campaign"), async () => {
      try {
        D.clearFormErrors(form);
        if (campaignId === null) {
          const created = await D.api("POST", "/api/campaigns", body);
          const id = pick(created, "id") || pick(created.campaign || {}, "id");
          window.location.assign(`/campaigns/${id}?created=1`);
          return;
        }
        const saved = await D.api("PATCH", `/api/campaigns/${campaignId}`, body);
        campaign = Object.assign({}, campaign, (saved && (saved.campaign || saved)) || {});
        fillForm(campaign);
        showHeader();
        D.showError($("rules-error"), null);
        D.setText($("rules-ok"), D.t("app.saved"));
      } catch (err) {
        D.showFormErrors(form, err, $("rules-error"));
      }
    });
  });

  function showHeader() {
    if (!campaign) return;
    D.setText($("campaign-title"), campaign.name);
    document.title = `${campaign.name} · ${D.t("app.name")}`;
    const badge = $("campaign-state");
    badge.dataset.state = campaign.state || "";
    badge.textContent = D.tv("campaign_state", campaign.state);
    const why = $("campaign-paused-reason");
    why.textContent = campaign.paused_reason ? D.t("dashboard.paused_reason", { reason: campaign.paused_reason }) : "";
    why.hidden = !campaign.paused_reason;
    D.showIdle($("campaign-idle"), $("campaign-idle-box"), campaign.idle);
    for (const b of D.$$("#state-actions button")) {
      const allowed = { start: ["draft", "paused", "stopped"], pause: ["running"], stop: ["running", "paused"] }[b.dataset.action];
      b.disabled = !allowed.includes(campaign.state);
    }
  }

  /* ---- start / pause / stop ------------------------------------------------------------ */

  for (const b of D.$$("#state-actions button")) {
    b.addEventListener("click", async () => {
      // Starting outside the campaign's own hours: say so first (it would not dial yet).
      if (b.dataset.action === "start" && campaign && campaign.hours_open === false) {
        const hours = `${campaign.hours_start}–${campaign.hours_end} (${campaign.hours_tz})`;
        if (!window.confirm(D.t("campaign.start_closed_confirm", { hours }))) return;
      }
      await D.busy(b, async () => {
        try {
          const answer = await D.api("POST", `/api/campaigns/${campaignId}/${b.dataset.action}`);
          const state = pick(answer || {}, "state") || pick((answer || {}).campaign || {}, "state");
          if (state) campaign.state = state;
          await refreshFigures();
          D.showError($("campaign-error"), null);
        } catch (err) {
          D.showError($("campaign-error"), err);
        }
      });
      showHeader();
    });
  }

  /* ---- statuses offered ---------------------------------------------------------------- */

  function statusRow(s, isOffered) {
    const up = D.h("button", { type: "button", class: "small", "aria-label": `${D.t("campaign.move_up")}: ${s.name}`, title: D.t("campaign.move_up") }, "↑");
    const down = D.h("button", { type: "button", class: "small", "aria-label": `${D.t("campaign.move_down")}: ${s.name}`, title: D.t("campaign.move_down") }, "↓");
    // An inactive status cannot be offered: saving the list leaves it out.
    const inactive = s.active === false;
    const row = D.h(
      "tr",
      { dataset: { status: s.id }, class: inactive ? "inactive" : null },
      D.h("td", {}, D.h("input", { type: "checkbox", name: "offered", value: s.id, checked: isOffered && !inactive, disabled: inactive, "aria-label": `${D.t("campaign.offered")}: ${s.name}` })),
      D.h(
        "td",
        {},
        s.name,
        s.campaign_id ? D.h("small", { class: "muted" }, " " + D.t("campaign.own_status")) : null,
        inactive ? D.h("small", { class: "muted" }, " " + D.t("campaign.inactive_status")) : null,
      ),
      D.h("td", {}, D.tv("system_status", s.system_status)),
      D.h("td", { class: "actions" }, up, down),
    );
    up.addEventListener("click", () => {
      if (row.previousElementSibling) row.parentElement.insertBefore(row, row.previousElementSibling);
      up.focus();
    });
    down.addEventListener("click", () => {
      if (row.nextElementSibling) row.parentElement.insertBefore(row.nextElementSibling, row);
      down.focus();
    });
    return row;
  }

  async function loadStatuses() {
    try {
      offered = D.items(await D.api("GET", `/api/campaigns/${campaignId}/statuses`));
      try {
        dictionary = D.items(await D.api("GET", "/api/statuses"));
      } catch (err) {
        dictionary = [];
      }
      const offeredIds = new Set(offered.map((s) => s.id));
      const rest = dictionary.filter((s) => !offeredIds.has(s.id) && s.active !== false);
      D.fillTable($("offered"), [...offered.map((s) => statusRow(s, true)), ...rest.map((s) => statusRow(s, false))]);
      const wrap = form.elements.wrapup_default_status_id;
      const chosen = wrap.dataset.value || wrap.value;
      wrap.replaceChildren(D.h("option", { value: "" }, D.t("app.none")), ...offered.filter((s) => s.active !== false).map((s) => D.h("option", { value: s.id }, s.name)));
      wrap.value = chosen;
      D.showError($("statuses-error"), null);
    } catch (err) {
      D.showError($("statuses-error"), err);
    }
  }

  const statusesForm = $("statuses-form");
  if (statusesForm && admin) {
    statusesForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const ids = D.$$('input[name="offered"]', statusesForm)
        .filter((b) => b.checked)
        .map((b) => Number(b.value));
      await D.busy($("btn-save-statuses"), async () => {
        try {
          await D.api("PUT", `/api/campaigns/${campaignId}/statuses`, { status_ids: ids });
          D.showError($("statuses-error"), null);
          D.setText($("statuses-ok"), D.t("app.saved"));
          await loadStatuses();
        } catch (err) {
          D.setText($("statuses-ok"), "");
          D.showError($("statuses-error"), err);
        }
      });
    });
  }
  const ownForm = $("own-status-form");
  if (ownForm) {
    ownForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { name: ownForm.elements.name.value.trim(), system_status: ownForm.elements.system_status.value };
      try {
        await D.api("POST", `/api/campaigns/${campaignId}/statuses`, body);
        ownForm.reset();
        D.clearFormErrors(ownForm);
        D.showError($("own-status-error"), null);
        await loadStatuses();
      } catch (err) {
        D.showFormErrors(ownForm, err, $("own-status-error"));
      }
    });
  }

  /* ---- lists and upload --------------------------------------------------------------- */

  async function loadLists() {
    if (!$("lists")) return;
    try {
      const lists = D.items(await D.api("GET", `/api/campaigns/${campaignId}/lists`));
      D.fillTable(
        $("lists"),
        lists.map((l) =>
          D.h(
            "tr",
            {},
            D.h("td", {}, l.name || "–"),
            D.h("td", {}, D.timeEl(l.created_at)),
            D.h("td", { class: "num" }, D.fmtNumber(pick(l, "rows_imported", "imported"))),
            D.h("td", { class: "num" }, D.fmtNumber(pick(l, "rows_rejected", "rejected"))),
          ),
        ),
        $("lists-empty"),
      );
    } catch (err) {
      D.showError($("lists-error"), err);
    }
  }



  const upload = $("upload-form");
  if (upload) {
    upload.addEventListener("submit", async (event) => {
      event.preventDefault();
      D.clearFormErrors(upload);
      const file = upload.elements.file.files[0];
      if (!file) {
        D.setText(upload.querySelector('[data-error-for="file"]'), D.t("campaign.pick_file"));
        upload.elements.file.focus();
        return;
      }
      const data = new FormData();
      data.append("file", file, file.name);
      for (const name of ["name", "region", "tz"]) {
        const v = upload.elements[name].value.trim();
        if (v) data.append(name, name === "region" ? v.toUpperCase() : v);
      }
      await D.busy($("btn-upload"), async () => {
        try {
          const report = await D.api("POST", `/api/campaigns/${campaignId}/lists`, data);
          D.showError($("upload-error"), null);
          D.showImportReport(report.report || report);
          upload.reset();
          await loadLists();
          await refreshFigures();
        } catch (err) {
          D.showFormErrors(upload, err, $("upload-error"));
        }
      });
    });
  }

  /* ---- start ------------------------------------------------------------------------ */

  async function loadCampaign() {
    campaign = await D.api("GET", `/api/campaigns/${campaignId}`);
    fillForm(campaign);
    showHeader();
    showRecords(campaign.records);
  }
  /** The campaign's state, reasons and record counts again, the form left as typed. */
  async function refreshFigures() {
    try {
      const fresh = await D.api("GET", `/api/campaigns/${campaignId}`);
      for (const key of ["state", "paused_reason", "idle", "hours_open"]) campaign[key] = fresh[key];
      showHeader();
      showRecords(fresh.records);
    } catch (err) {
      /* the next event or the next minute tries again */
    }
  }
  function showRecords(records) {
    for (const el of D.$$("[data-records]")) el.textContent = D.fmtNumber(records[el.dataset.records]);
    for (const el of D.$$("#record-by-status [data-system]")) el.textContent = D.fmtNumber(records.by_system_status[el.dataset.system] || 0);
  }

  (async function start() {
    if (campaignId === null) {
      fillForm(DEFAULTS);
      if (admin) await loadProfiles();
      form.elements.name.focus();
      return;
    }
    try {
      await D.ready;
      await loadCampaign();
      if (admin) $("rules-fields").disabled = false;
    } catch (err) {
      D.showError($("campaign-error"), err);
      return;
    }
    if (new URLSearchParams(location.search).get("created")) D.setText($("rules-ok"), D.t("campaign.created"));
    if (admin) loadProfiles();
    loadStatuses();
    loadLists();
    // Record counts and the reasons follow the engine (calls placed, imports, starts)
    // without a reload: refresh at most every few seconds while the stream says so.
    const refresh = D.throttle(refreshFigures, 3000);
    D.live({ campaign: campaignId }, { stats: (p) => Number(p.campaign) === campaignId && refresh(), call: (p) => Number(p.campaign) === campaignId && refresh() });
    setInterval(refresh, 30000);
  })();
})();
