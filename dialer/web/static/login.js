/* Sign in: POST /api/auth/login (the answer sets the session cookie), then go on. */
"use strict";

(function () {
  const D = window.Dialer;
  const form = document.getElementById("login-form");
  const errorEl = document.getElementById("login-error");
  /** "4 min 10 s" / "45 s": how long a locked sign-in waits. */
  function waitText(seconds) {
    const s = Math.max(1, Math.ceil(seconds));
    const min = Math.floor(s / 60);
    const rest = s % 60;
    if (!min) return D.t("login.wait_s", { s });
    return rest ? D.t("login.wait_min_s", { min, s: rest }) : D.t("login.wait_min", { min });
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const login = form.elements.login.value.trim();
    const password = form.elements.password.value;
    if (!login || !password) {
      D.showError(errorEl, D.t("login.missing"));
      (login ? form.elements.password : form.elements.login).focus();
      return;
    }
    const button = form.querySelector("button[type=submit]");
    await D.busy(button, async () => {
      try {
        await D.api("POST", "/api/auth/login", { login, password });
      } catch (err) {
        if (err.status === 429) {
          const data = err.body || {};
          const key = data.locked === "address" ? "login.too_many_address" : "login.too_many";
          D.showError(errorEl, D.t(key, { wait: waitText(Number(data.retry_after_s) || 0) }));
        } else {
          D.showError(errorEl, err.status === 401 ? D.t("login.wrong") : D.errorText(err));
        }
        form.elements.password.select();
        return;
      }
      window.location.assign(form.dataset.next || "/");
    });
  });
})();
