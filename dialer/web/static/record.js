/* One record for supervisors: where it stands and why it is not dialed now, actions (call
   next, park / unpark, release or reassign the callback), a status set by hand, its name,
   zone and custom fields, every attempt and every change (a readable diff).
   GET/PATCH /api/records/{id}, POST …/status, POST …/actions. */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  const root = $("record-root");
  const recordId = Number(root.dataset.recordId);
  const base = `/api/records/${recordId}`;
  let record = null;
  let statuses = [];
  const DATED = new Set(["MY_RECORD", "NOT_BEFORE"]);

  function fieldRow(key, value, isNew) {
    return D.h(
      "div",
      { class: "row field-row" },
      D.h("input", { name: "field_key", value: key, "aria-label": D.t("record.field_name"), maxlength: "64", readonly: isNew ? null : true }),
      D.h("input", { name: "field_value", value: value, "aria-label": D.t("record.field_value") + " " + key, maxlength: "2000" }),
    );
  }

  let editDirty = false;

  function show(r) {
    record = r;
    root.hidden = false;
    D.setText($("record-phone"), r.phone);
    D.setText($("record-name"), r.name || "");
    document.title = `${r.phone} · ${D.t("record.title")} · ${D.t("app.name")}`;
    const badge = $("record-system");
    badge.dataset.system = r.system_status;
    D.setText(badge, D.tv("system_status", r.system_status));
    const back = $("record-back");
    back.href = `/campaigns/${r.campaign_id}/records`;
    D.setText($("fact-campaign"), r.campaign);
    D.setText($("fact-status"), r.status || "–");
    D.setText($("fact-owner"), r.owner || "–");
    D.setText($("fact-attempts"), D.fmtNumber(r.attempts));
    $("fact-next").replaceChildren(D.timeEl(r.next_call_at, true));
    D.setText($("fact-outcome"), r.last_outcome ? D.tv("outcome", r.last_outcome) : "–");
    $("fact-last").replaceChildren(D.timeEl(r.last_call_at, true));
    const extra = [];
    if (r.parked_at) extra.push(D.t("record.parked_since", { when: D.fmtDateTimeShort(r.parked_at), who: r.parked_by || "–" }));
    if (r.call_next_at) extra.push(D.t("record.call_next_since", { when: D.fmtDateTimeShort(r.call_next_at) }));
    D.setText($("fact-dialable"), [r.not_callable ? D.tv("not_callable", r.not_callable) : D.t("record.dialable_now"), ...extra].join(" · "));
    const buttons = $("record-actions");
    buttons.querySelector('[data-action="park"]').hidden = !!r.parked_at;
    buttons.querySelector('[data-action="unpark"]').hidden = !r.parked_at;
    buttons.querySelector('[data-action="release"]').hidden = r.system_status !== "MY_RECORD";
    $("reassign-form").hidden = r.system_status !== "MY_RECORD";
    buttons.querySelector('[data-action="call_next"]').disabled = !!r.call_next_at || r.system_status === "DO_NOT_CALL" || !!r.parked_at;

    // what the supervisor is typing in the edit form stays when another action (park, status…)
    // shows the record again; the form takes the record's values when untouched or saved
    if (!editDirty) {
      const edit = $("edit-form");
      edit.elements.name.value = r.name || "";
      edit.elements.tz.value = r.tz || "";
      $("e-field-rows").replaceChildren(...Object.entries(r.fields || {}).map(([k, v]) => fieldRow(k, v === null ? "" : String(v), false)));
    }

    D.fillTable(
      $("attempts"),
      r.attempts_log.map((a) =>
        D.h(
          "tr",
          {},
          D.h("td", {}, D.timeEl(a.dial_at, true)),
          D.h("td", { class: "num" }, a.attempt),
          D.h("td", {}, a.agent || "–"),
          D.h("td", {}, a.outcome ? D.tv("outcome", a.outcome) : "–"),
          D.h("td", {}, a.status || (a.system_status ? D.tv("system_status", a.system_status) : "–")),
          D.h("td", { class: "num" }, D.fmtDuration(a.talk_s)),
          D.h("td", { class: "note" }, a.note || "–"),
        ),
      ),
      $("attempts-empty"),
    );
    D.fillTable(
      $("record-audit"),
      r.audit.map((a) =>
        D.h(
          "tr",
          {},
          D.h("td", {}, D.timeEl(a.at, true)),
          D.h("td", {}, a.actor),
          D.h("td", {}, D.tv("audit_action", a.action.replace(/\./g, "_"))),
          D.h("td", { class: "note" }, D.diff(a.details)),
        ),
      ),
      $("audit-empty"),
    );
  }

  async function load() {
    try {
      show(await D.api("GET", base));
      D.showError($("record-error"), null);
    } catch (err) {
      D.showError($("record-error"), err);
    }
  }

  function statusChanged() {
    const form = $("status-form");
    const chosen = statuses.find((s) => String(s.id) === form.elements.status_id.value);
    const system = chosen ? chosen.system_status : null;
    $("s-owner-field").hidden = system !== "MY_RECORD";
    $("s-date-field").hidden = !DATED.has(system);
  }

  async function act(action, extra) {
    const result = $("action-result");
    try {
      const done = await D.api("POST", `${base}/actions`, Object.assign({ action }, extra || {}));
      const skipped = Object.values(done.skipped);
      D.setText(result, skipped.length ? D.t("record.action_skipped", { reason: D.tv("skip", skipped[0]) }) : D.t("record.action_done"));
      D.showError($("record-error"), null);
      await load();
    } catch (err) {
      D.setText(result, "");
      if (!D.showFormErrors($("reassign-form"), err, $("record-error"))) D.showError($("record-error"), err);
    }
  }

  $("record-actions").addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-action]");
    if (button) D.busy(button, () => act(button.dataset.action));
  });
  $("reassign-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const agent = form.elements.agent_id.value;
    D.clearFormErrors(form);
    if (!agent) {
      D.setText(form.querySelector('[data-error-for="agent_id"]'), D.t("problem.required"));
      return;
    }
    D.busy(form.querySelector("button"), () => act("reassign", { agent_id: Number(agent) }));
  });

  $("status-form").elements.status_id.addEventListener("change", statusChanged);
  $("status-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const body = { status_id: Number(form.elements.status_id.value) || null, note: form.elements.note.value.trim() };
    if (!$("s-owner-field").hidden && form.elements.owner_agent_id.value) body.owner_agent_id = Number(form.elements.owner_agent_id.value);
    if (!$("s-date-field").hidden && form.elements.date.value) body.date = D.localInputToIso(form.elements.date.value);
    await D.busy(form.querySelector('button[type="submit"]'), async () => {
      try {
        show(await D.api("POST", `${base}/status`, body));
        D.clearFormErrors(form);
        D.showError($("status-error"), null);
        form.reset();
        statusChanged();
        D.setText($("action-result"), D.t("record.action_done"));
      } catch (err) {
        D.showFormErrors(form, err, $("status-error"));
      }
    });
  });

  $("edit-form").addEventListener("input", () => {
    editDirty = true;
  });
  $("e-add-field").addEventListener("click", () => {
    editDirty = true;
    const row = fieldRow("", "", true);
    $("e-field-rows").append(row);
    row.querySelector("input").focus();
  });
  $("edit-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const fields = {};
    for (const row of D.$$(".field-row", form)) {
      const [key, value] = D.$$("input", row);
      if (key.value.trim()) fields[key.value.trim()] = value.value;
    }
    const body = { name: form.elements.name.value, tz: form.elements.tz.value.trim(), fields };
    await D.busy(form.querySelector('button[type="submit"]'), async () => {
      try {
        const saved = await D.api("PATCH", base, body);
        editDirty = false;
        show(saved);
        D.clearFormErrors(form);
        D.showError($("edit-error"), null);
        D.setText($("edit-ok"), D.t("app.saved"));
      } catch (err) {
        D.setText($("edit-ok"), "");
        D.showFormErrors(form, err, $("edit-error"));
      }
    });
  });

  (async function start() {
    await D.ready;
    await load();
    if (!record) return;
    const [campaign, agents] = await Promise.allSettled([
      D.api("GET", `/api/campaigns/${record.campaign_id}`),
      D.api("GET", "/api/agents"),
    ]);
    if (campaign.status === "fulfilled") {
      statuses = campaign.value.statuses.filter((s) => s.active);
      $("s-status").append(...statuses.map((s) => D.h("option", { value: s.id }, `${s.name} (${D.tv("system_status", s.system_status)})`)));
    }
    if (agents.status === "fulfilled") {
      const options = () => D.items(agents.value).filter((a) => a.active !== false).map((a) => D.h("option", { value: a.id }, a.name || a.login));
      $("s-owner").append(...options());
      $("reassign-agent").append(...options());
    }
    statusChanged();
  })();
})();
