/* The campaign list: GET /api/campaigns; start / pause / stop for administrators and heads. */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  const runner = D.role === "admin" || D.role === "head";
  const ACTIONS = { start: ["paused", "draft", "stopped"], pause: ["running"], stop: ["running", "paused"] };

  const SYSTEM = ["TO_CALL", "MY_RECORD", "NOT_BEFORE", "CALL_PROGRESSIVE", "DO_NOT_CALL"];

  async function changeState(button, id, action) {
    await D.busy(button, async () => {
      try {
        await D.api("POST", `/api/campaigns/${id}/${action}`);
        D.showError($("campaigns-error"), null);
        await load();
      } catch (err) {
        D.showError($("campaigns-error"), err);
      }
    });
  }

  async function load() {
    let list;
    try {
      list = await D.api("GET", "/api/campaigns");
    } catch (err) {
      D.showError($("campaigns-error"), err);
      return;
    }
    const rows = list.map((c) => {
      const cells = [
        D.h("td", {}, D.h("a", { href: `/campaigns/${c.id}` }, c.name)),
        D.h("td", {}, D.badge("state", c.state)),
        D.h("td", {}, c.pacing_profile || "–"),
        D.h("td", { class: "num" }, D.fmtNumber(c.records.total)),
        ...SYSTEM.map((s) => D.h("td", { class: "num" }, D.fmtNumber(c.records.by_system_status[s] || 0))),
      ];
      if (runner) {
        const buttons = Object.entries(ACTIONS)
          .filter(([, from]) => from.includes(c.state))
          .map(([action]) => {
            const b = D.h(
              "button",
              { type: "button", class: "small", dataset: { action }, "aria-label": `${D.t("campaigns." + action)}: ${c.name}` },
              D.t("campaigns." + action),
            );
            b.addEventListener("click", () => {
              // Starting outside the campaign's own hours: say so first (it would not dial).
              if (action === "start" && c.hours_open === false) {
                const hours = `${c.hours_start}–${c.hours_end} (${c.hours_tz})`;
                if (!window.confirm(D.t("campaign.start_closed_confirm", { hours }))) return;
              }
              changeState(b, c.id, action);
            });
            return b;
          });
        cells.push(D.h("td", { class: "actions" }, ...buttons));
      }
      return D.h("tr", { dataset: { campaign: c.id } }, ...cells);
    });
    D.fillTable($("campaigns"), rows, $("campaigns-empty"));
  }

  load();
  setInterval(load, 30000);
})();
