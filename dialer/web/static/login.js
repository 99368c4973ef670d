/* Sign in: POST /api/auth/login (the answer sets the session cookie), then go on. */
"use strict";

(function () {
  const D = window.Dialer;
  const form = document.getElementById("login-form");
  const errorEl = document.getElementById("login-error");
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
        const known = { 401: "login.wrong", 429: "login.too_many" };
        D.showError(errorEl, known[err.status] ? D.t(known[err.status]) : D.errorText(err));
        form.elements.password.select();
        return;
      }
      window.location.assign(form.dataset.next || "/");
    });
  });
})();
