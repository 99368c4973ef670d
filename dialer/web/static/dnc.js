/* The do-not-call lists: filters (kept in the page's address), paging, CSV/XLSX export of
   the filtered list; for administrators adding a number, removing one, and importing a
   file with its report. GET/POST /api/dnc, DELETE /api/dnc/{id}, POST /api/dnc/import,
   GET /api/dnc/export. */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  const form = $("filters");
  const addForm = $("add-form");
  const importForm = $("import-form");
  const isAdmin = D.role === "admin";
  const FILTERS = ["phone", "list", "include_expired", "page_size"];
  let page = 1;

  /** The filters as they are kept in the address. */
  function filters() {
    const out = {};
    for (const name of FILTERS) {
      const input = form.elements[name];
      if (input.type === "checkbox") {
        if (input.checked) out[name] = "true";
      } else if (input.value.trim()) {
        out[name] = input.value.trim();
      }
    }
    return out;
  }

  /** The filters as API query parameters (the list choice split into its two forms). */
  function apiFilters(kept) {
    const out = Object.assign({}, kept, { list: null, page_size: null });
    if (kept.list === "global") out.global_only = "true";
    else if (kept.list) out.campaign_id = kept.list;
    return out;
  }

  function fromAddress() {
    const q = new URLSearchParams(location.search);
    for (const name of FILTERS) {
      const input = form.elements[name];
      if (!q.has(name)) continue;
      if (input.type === "checkbox") input.checked = q.get(name) === "true";
      else {
        input.dataset.value = q.get(name);
        input.value = q.get(name);
      }
    }
    page = Math.max(1, Number(q.get("page") || 1));
  }

  function listName(entry) {
    if (entry.campaign_id === null) return D.h("span", { class: "badge", dataset: { list: "global" } }, D.t("dnc.global"));
    return entry.campaign || "#" + entry.campaign_id;
  }

  async function remove(button, entry) {
    const list = entry.campaign_id === null ? D.t("dnc.global") : entry.campaign || "#" + entry.campaign_id;
    if (!window.confirm(D.t("dnc.confirm_remove", { phone: entry.phone, list }))) return;
    await D.busy(button, async () => {
      try {
        await D.api("DELETE", `/api/dnc/${entry.id}`);
        D.showError($("dnc-error"), null);
        D.setText($("dnc-ok"), D.t("dnc.removed", { phone: entry.phone }));
        await load();
      } catch (err) {
        D.setText($("dnc-ok"), "");
        D.showError($("dnc-error"), err);
      }
    });
  }

  function row(entry) {
    const cells = [
      D.h("td", {}, entry.phone),
      D.h("td", {}, listName(entry)),
      D.h("td", { class: "note" }, entry.reason || "–"),
      D.h("td", {}, entry.added_by || "–"),
      D.h("td", {}, entry.expires_at ? D.timeEl(entry.expires_at, true) : D.t("dnc.never")),
      D.h("td", {}, D.timeEl(entry.created_at, true)),
    ];
    if (isAdmin) {
      const off = D.h("button", { type: "button", class: "small danger", "aria-label": `${D.t("dnc.remove")}: ${entry.phone}` }, D.t("dnc.remove"));
      off.addEventListener("click", () => remove(off, entry));
      cells.push(D.h("td", { class: "actions" }, off));
    }
    return D.h("tr", { dataset: { dnc: entry.id } }, ...cells);
  }

  async function load() {
    const kept = filters();
    const size = Number(kept.page_size || 50);
    history.replaceState(null, "", D.query(Object.assign({}, kept, { page: page > 1 ? page : null })) || location.pathname);
    const params = apiFilters(kept);
    for (const format of ["csv", "xlsx"]) {
      const link = $("export-" + format);
      if (link) link.href = "/api/dnc/export" + D.query(Object.assign({}, params, { format }));
    }
    let data;
    try {
      data = await D.api("GET", "/api/dnc" + D.query(Object.assign({}, params, { limit: size, offset: (page - 1) * size })));
      D.clearFormErrors(form);
      D.showError($("dnc-error"), null);
    } catch (err) {
      D.showFormErrors(form, err, $("dnc-error"));
      return;
    }
    D.fillTable($("dnc"), data.items.map(row), $("dnc-empty"));
    const pages = Math.max(1, Math.ceil(data.total / size));
    $("page-prev").disabled = page <= 1;
    $("page-next").disabled = page >= pages;
    D.setText($("page-info"), D.tn("dnc.page_of", data.total, { page, pages, total: D.fmtNumber(data.total) }));
  }

  async function fillCampaigns() {
    let campaigns = [];
    try {
      campaigns = D.items(await D.api("GET", "/api/campaigns"));
    } catch (err) {
      D.showError($("dnc-error"), err);
    }
    for (const select of D.$$("select[data-campaigns]")) {
      const keep = select.dataset.value || select.value;
      select.append(...campaigns.map((c) => D.h("option", { value: c.id }, c.name)));
      select.value = keep;
    }
  }



  D.wirePaging(form, (next) => {
    page = next(page);
    load();
  });

  if (addForm) {
    addForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = addForm.elements;
      const body = {
        phone: f.phone.value.trim(),
        campaign_id: f.campaign_id.value ? Number(f.campaign_id.value) : null,
        reason: f.reason.value.trim(),
        expires_at: D.localInputToIso(f.expires_at.value),
      };
      await D.busy($("btn-add"), async () => {
        try {
          D.clearFormErrors(addForm);
          const saved = await D.api("POST", "/api/dnc", body);
          D.showError($("add-error"), null);
          D.setText($("dnc-ok"), D.t(saved.added ? "dnc.added" : "dnc.updated", { phone: saved.phone }));
          f.phone.value = "";
          await load();
        } catch (err) {
          D.showFormErrors(addForm, err, $("add-error"));
        }
      });
    });
  }

  if (importForm) {
    importForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      D.clearFormErrors(importForm);
      const f = importForm.elements;
      const file = f.file.files[0];
      if (!file) {
        D.setText(importForm.querySelector('[data-error-for="file"]'), D.t("dnc.pick_file"));
        f.file.focus();
        return;
      }
      const data = new FormData();
      data.append("file", file, file.name);
      if (f.campaign_id.value) data.append("campaign_id", f.campaign_id.value);
      if (f.reason.value.trim()) data.append("reason", f.reason.value.trim());
      await D.busy($("btn-import"), async () => {
        try {
          const report = await D.api("POST", "/api/dnc/import", data);
          D.showError($("import-error"), null);
          D.showImportReport(report);
          f.file.value = "";
          await load();
        } catch (err) {
          D.showFormErrors(importForm, err, $("import-error"));
        }
      });
    });
  }

  fromAddress();
  fillCampaigns().then(load);
})();
