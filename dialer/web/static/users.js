/* Users, agents and groups (administrators): lists, create and edit forms. */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  let groups = [];
  let agents = [];

  const groupName = (id) => (groups.find((g) => g.id === id) || {}).name || (id ? "#" + id : "–");
  const agentName = (id) => {
    const a = agents.find((x) => x.id === id);
    return a ? a.name || a.login : id ? "#" + id : "–";
  };
  const yes = (v) => (v ? D.t("app.yes") : D.t("app.no"));

  /** Wire a form: fields → JSON; POST to `base` when new, PATCH `base/{id}` when editing. */
  function setup(formId, base, toBody, afterSave) {
    const form = $(formId);
    const heading = document.getElementById(form.getAttribute("aria-labelledby") || formId + "-h") || form.parentElement.querySelector("h2");
    const okEl = form.querySelector("[data-ok]");
    const errEl = form.querySelector("[data-form-error]");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const id = form.elements.id.value;
      const body = toBody(form, !id);
      const button = form.querySelector("button[type=submit]");
      await D.busy(button, async () => {
        try {
          D.clearFormErrors(form);
          const saved = id ? await D.api("PATCH", `${base}/${id}`, body) : await D.api("POST", base, body);
          D.showError(errEl, null);
          D.setText(okEl, D.t("app.saved"));
          if (saved && saved.id) form.elements.id.value = saved.id;
          if (heading) heading.textContent = heading.dataset.edit;
          if (form.elements.password) form.elements.password.value = "";
          await afterSave();
        } catch (err) {
          D.setText(okEl, "");
          D.showFormErrors(form, err, errEl);
        }
      });
    });
    form.addEventListener("reset", () => {
      setTimeout(() => {
        form.elements.id.value = "";
        if (heading) heading.textContent = heading.dataset.new;
        D.clearFormErrors(form);
        D.setText(okEl, "");
        D.showError(errEl, null);
      });
    });
    return function edit(row, fill) {
      form.reset();
      setTimeout(() => {
        form.elements.id.value = row.id;
        fill(form, row);
        if (heading) heading.textContent = heading.dataset.edit + ": " + (row.login || row.name);
        form.querySelector("input:not([type=hidden]), select").focus();
      });
    };
  }

  const optional = (value) => (value === "" ? null : Number(value));

  const editUser = setup(
    "user-form",
    "/api/users",
    (f, isNew) => {
      const body = {
        name: f.elements.name.value.trim(),
        role: f.elements.role.value,
        group_id: optional(f.elements.group_id.value),
        agent_id: optional(f.elements.agent_id.value),
        language: f.elements.language.value,
      };
      if (isNew) body.login = f.elements.login.value.trim();
      else body.active = f.elements.active.checked;
      if (f.elements.password.value) body.password = f.elements.password.value;
      return body;
    },
    loadAll,
  );
  // A new user is always active; the box applies to existing users.
  const userForm = $("user-form");
  const userMode = () => {
    userForm.elements.active.disabled = !userForm.elements.id.value;
    if (!userForm.elements.id.value) userForm.elements.active.checked = true;
  };
  userForm.addEventListener("reset", () => setTimeout(userMode, 10));
  userMode();
  const editAgent = setup(
    "agent-form",
    "/api/agents",
    (f, isNew) => {
      const body = {
        name: f.elements.name.value.trim(),
        extension: f.elements.extension.value.trim() || null,
        seats: f.elements.seats.value.split(/[\s,;]+/).filter(Boolean),
        group_id: optional(f.elements.group_id.value),
        active: f.elements.active.checked,
      };
      if (isNew || f.elements.login.value.trim()) body.login = f.elements.login.value.trim();
      return body;
    },
    loadAll,
  );
  const editGroup = setup("group-form", "/api/groups", (f) => ({ name: f.elements.name.value.trim() }), loadAll);

  function editButton(label, onClick) {
    const b = D.h("button", { type: "button", class: "small", "aria-label": `${D.t("app.edit")}: ${label}` }, D.t("app.edit"));
    b.addEventListener("click", onClick);
    return b;
  }

  function fillChoices() {
    for (const select of D.$$("select[data-groups]")) {
      const keep = select.value;
      select.replaceChildren(D.h("option", { value: "" }, D.t("app.none")), ...groups.map((g) => D.h("option", { value: g.id }, g.name)));
      select.value = keep;
    }
    for (const select of D.$$("select[data-agents]")) {
      const keep = select.value;
      select.replaceChildren(D.h("option", { value: "" }, D.t("app.none")), ...agents.map((a) => D.h("option", { value: a.id }, `${a.name || a.login} (${a.login})`)));
      select.value = keep;
    }
  }

  async function loadAll() {
    const results = await Promise.allSettled([D.api("GET", "/api/groups"), D.api("GET", "/api/agents"), D.api("GET", "/api/users")]);
    const [g, a, u] = results;
    if (g.status === "fulfilled") groups = D.items(g.value);
    D.showError($("groups-error"), g.status === "rejected" ? g.reason : null);
    if (a.status === "fulfilled") agents = D.items(a.value);
    D.showError($("agents-error"), a.status === "rejected" ? a.reason : null);
    D.showError($("users-error"), u.status === "rejected" ? u.reason : null);
    fillChoices();
    D.fillTable(
      $("groups"),
      groups.map((row) =>
        D.h("tr", {}, D.h("td", {}, row.name), D.h("td", { class: "num" }, D.fmtNumber(row.agents)), D.h("td", {}, editButton(row.name, () => editGroup(row, (f, r) => (f.elements.name.value = r.name))))),
      ),
    );
    D.fillTable(
      $("agents"),
      agents.map((row) =>
        D.h(
          "tr",
          { class: row.active === false ? "inactive" : null },
          D.h("td", {}, row.login),
          D.h("td", {}, row.name || "–"),
          D.h("td", {}, [row.extension, ...(row.seats || [])].filter(Boolean).join(", ") || "–"),
          D.h("td", {}, groupName(row.group_id)),
          D.h("td", {}, yes(row.active !== false)),
          D.h(
            "td",
            {},
            editButton(row.login, () =>
              editAgent(row, (f, r) => {
                f.elements.login.value = r.login;
                f.elements.name.value = r.name || "";
                f.elements.extension.value = r.extension || "";
                f.elements.seats.value = (r.seats || []).join(" ");
                f.elements.group_id.value = r.group_id || "";
                f.elements.active.checked = r.active !== false;
              }),
            ),
          ),
        ),
      ),
    );
    if (u.status === "fulfilled") {
      D.fillTable(
        $("users"),
        D.items(u.value).map((row) =>
          D.h(
            "tr",
            { class: row.active === false ? "inactive" : null },
            D.h("td", {}, row.login),
            D.h("td", {}, row.name || "–"),
            D.h("td", {}, D.tv("role", row.role)),
            D.h("td", {}, row.group_id ? groupName(row.group_id) : "–"),
            D.h("td", {}, row.agent_id ? agentName(row.agent_id) : "–"),
            D.h("td", {}, D.tv("lang", row.language)),
            D.h("td", {}, yes(row.active !== false)),
            D.h(
              "td",
              {},
              editButton(row.login, () =>
                editUser(row, (f, r) => {
                  f.elements.login.value = r.login;
                  f.elements.name.value = r.name || "";
                  f.elements.role.value = r.role;
                  f.elements.group_id.value = r.group_id || "";
                  f.elements.agent_id.value = r.agent_id || "";
                  f.elements.language.value = r.language || "en";
                  f.elements.active.checked = r.active !== false;
                  userMode();
                }),
              ),
            ),
          ),
        ),
      );
    }
    userMode();
  }

  async function loadLocks() {
    let locks = [];
    try {
      locks = await D.api("GET", "/api/auth/locks");
      D.showError($("locks-error"), null);
    } catch (err) {
      D.showError($("locks-error"), err);
    }
    $("locks-none").hidden = locks.length > 0;
    D.fillTable(
      $("locks"),
      locks.map((lock) => {
        const lift = D.h("button", { type: "button", class: "small", "aria-label": `${D.t("users.lift")}: ${lock.key}` }, D.t("users.lift"));
        lift.addEventListener("click", async () => {
          try {
            await D.api("POST", "/api/auth/locks/lift", { kind: lock.kind, key: lock.key });
          } catch (err) {
            if (err.status !== 404) D.showError($("locks-error"), err);
          }
          loadLocks();
        });
        return D.h(
          "tr",
          {},
          D.h("td", {}, lock.kind === "address" ? D.t("lock.address") : D.t("lock.login")),
          D.h("td", {}, lock.key),
          D.h("td", { class: "num" }, D.fmtNumber(lock.failures)),
          D.h("td", { class: "num" }, `${Math.ceil(lock.wait_s)} s`),
          D.h("td", {}, lift),
        );
      }),
    );
  }

  /* ---- settings: whether only administrators may export ------------------------------ */

  function showSettings(settings) {
    $("s-export").checked = Boolean(settings.export_admin_only);
    $("s-export-source").textContent = settings.export_admin_only_set_by
      ? D.t("settings.set_by", { who: settings.export_admin_only_set_by, when: D.fmtDateTime(settings.export_admin_only_set_at) })
      : D.t("settings.from_config", { value: settings.export_admin_only_default ? D.t("app.yes") : D.t("app.no") });
  }
  async function loadSettings() {
    const form = $("settings-form");
    try {
      showSettings(await D.api("GET", "/api/settings"));
      D.showError(form.querySelector("[data-form-error]"), null);
    } catch (err) {
      D.showError(form.querySelector("[data-form-error]"), err);
    }
  }
  $("settings-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = $("settings-form");
    const okEl = form.querySelector("[data-ok]");
    const errEl = form.querySelector("[data-form-error]");
    await D.busy(form.querySelector("button[type=submit]"), async () => {
      try {
        D.clearFormErrors(form);
        showSettings(await D.api("PUT", "/api/settings", { export_admin_only: $("s-export").checked }));
        D.showError(errEl, null);
        D.setText(okEl, D.t("app.saved"));
      } catch (err) {
        D.setText(okEl, "");
        D.showFormErrors(form, err, errEl);
      }
    });
  });

  loadAll();
  loadLocks();
  loadSettings();
})();
