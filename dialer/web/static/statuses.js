/* The status dictionary editor: GET/POST /api/statuses, PATCH/DELETE /api/statuses/{id}. */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  const form = $("status-form");
  const heading = $("edit-h");
  let rows = [];

  const yes = (v) => (v ? D.t("app.yes") : D.t("app.no"));

  function showHint() {
    D.setText($("s-system-hint"), D.t("system_status_help." + form.elements.system_status.value));
  }
  form.elements.system_status.addEventListener("change", showHint);

  function edit(s) {
    form.elements.id.value = s.id;
    form.elements.name.value = s.name;
    form.elements.system_status.value = s.system_status;
    form.elements.auto_outcome.value = s.auto_outcome || "";
    form.elements.add_to_new_campaigns.checked = !!s.add_to_new_campaigns;
    form.elements.hidden.checked = !!s.hidden;
    form.elements.active.checked = s.active !== false;
    heading.textContent = heading.dataset.edit + ": " + s.name;
    D.clearFormErrors(form);
    D.setText($("status-ok"), "");
    D.showError($("status-error"), null);
    showHint();
    form.elements.name.focus();
  }

  async function deactivate(button, s) {
    if (!window.confirm(D.t("statuses.confirm_deactivate", { name: s.name }))) return;
    await D.busy(button, async () => {
      try {
        await D.api("DELETE", `/api/statuses/${s.id}`);
        D.showError($("statuses-error"), null);
        await load();
      } catch (err) {
        D.showError($("statuses-error"), err);
      }
    });
  }

  async function load() {
    try {
      rows = D.items(await D.api("GET", "/api/statuses"));
    } catch (err) {
      D.showError($("statuses-error"), err);
      return;
    }
    D.fillTable(
      $("statuses"),
      rows.map((s) => {
        const editButton = D.h("button", { type: "button", class: "small", "aria-label": `${D.t("app.edit")}: ${s.name}` }, D.t("app.edit"));
        editButton.addEventListener("click", () => edit(s));
        const cells = [editButton];
        if (s.active !== false) {
          const off = D.h("button", { type: "button", class: "small danger", "aria-label": `${D.t("statuses.deactivate")}: ${s.name}` }, D.t("statuses.deactivate"));
          off.addEventListener("click", () => deactivate(off, s));
          cells.push(off);
        }
        return D.h(
          "tr",
          { dataset: { status: s.id }, class: s.active === false ? "inactive" : null },
          D.h("td", {}, s.name),
          D.h("td", {}, D.h("span", { class: "badge", dataset: { system: s.system_status } }, D.tv("system_status", s.system_status))),
          D.h("td", {}, s.auto_outcome ? D.tv("outcome", s.auto_outcome) : "–"),
          D.h("td", {}, yes(s.add_to_new_campaigns)),
          D.h("td", {}, yes(s.hidden)),
          D.h("td", {}, yes(s.active !== false)),
          D.h("td", { class: "actions" }, ...cells),
        );
      }),
    );
  }

  form.addEventListener("reset", () => {
    setTimeout(() => {
      form.elements.id.value = "";
      heading.textContent = heading.dataset.new;
      D.clearFormErrors(form);
      D.setText($("status-ok"), "");
      D.showError($("status-error"), null);
      showHint();
    });
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = form.elements.id.value;
    const body = {
      name: form.elements.name.value.trim(),
      system_status: form.elements.system_status.value,
      auto_outcome: form.elements.auto_outcome.value || null,
      add_to_new_campaigns: form.elements.add_to_new_campaigns.checked,
      hidden: form.elements.hidden.checked,
      active: form.elements.active.checked,
    };
    await D.busy($("btn-save-status"), async () => {
      try {
        D.clearFormErrors(form);
        const saved = id ? await D.api("PATCH", `/api/statuses/${id}`, body) : await D.api("POST", "/api/statuses", body);
        D.showError($("status-error"), null);
        D.setText($("status-ok"), D.t("app.saved"));
        await load();
        if (saved && saved.id) form.elements.id.value = saved.id;
        if (saved && saved.name) heading.textContent = heading.dataset.edit + ": " + saved.name;
      } catch (err) {
        D.setText($("status-ok"), "");
        D.showFormErrors(form, err, $("status-error"));
      }
    });
  });

  showHint();
  load();
})();
