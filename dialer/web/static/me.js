/* My account: own name, language and password (PATCH /api/me). */
"use strict";

(function () {
  const D = window.Dialer;
  const $ = (id) => document.getElementById(id);
  const form = $("me-form");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    D.clearFormErrors(form);
    D.setText($("me-ok"), "");
    D.showError($("me-error"), null);
    const body = { name: form.elements.name.value.trim(), language: form.elements.language.value };
    const password = form.elements.password.value;
    if (password || form.elements.current_password.value) {
      if (password !== form.elements.repeat.value) {
        D.setText(form.querySelector('[data-error-for="repeat"]'), D.t("me.passwords_differ"));
        form.elements.repeat.setAttribute("aria-invalid", "true");
        form.elements.repeat.focus();
        return;
      }
      body.password = password;
      body.current_password = form.elements.current_password.value;
    }
    await D.busy($("btn-me"), async () => {
      try {
        await D.api("PATCH", "/api/me", body);
      } catch (err) {
        D.showFormErrors(form, err, $("me-error"));
        return;
      }
      for (const name of ["current_password", "password", "repeat"]) form.elements[name].value = "";
      if (body.language !== form.dataset.language) {
        // The page's language follows the new choice at once.
        window.location.assign("/me?lang=" + encodeURIComponent(body.language));
        return;
      }
      D.setText($("me-ok"), D.t("app.saved"));
    });
  });
})();
