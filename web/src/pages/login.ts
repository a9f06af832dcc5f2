// Logging in, choosing one's own password, and waiting for the organisation's identity.
import { call, Problem } from "../api.ts";
import { h, show } from "../dom.ts";
import { t } from "../i18n.ts";
import { ask } from "../keys.ts";
import { logIn, session } from "../session.ts";
import { alert, field, go } from "./common.ts";

export function loginPage(message?: string): void {
  const username = h("input", { id: "username", name: "username", class: "utrecht-textbox", autocomplete: "username", required: true });
  const password = h("input", { id: "password", name: "password", type: "password", class: "utrecht-textbox utrecht-textbox--password", autocomplete: "current-password", required: true });
  const status = h("div", { role: "status", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "utrecht-form", novalidate: true },
    field("username", t("login.username"), username),
    field("password", t("login.password"), password),
    h("p", { class: "utrecht-paragraph" }, t("login.note")),
    h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("login.submit")),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.replaceChildren(alert("info", t("login.busy")));
    try {
      const me = await logIn(username.value.trim(), password.value);
      password.value = "";
      go(!me.person || !me.recipient ? "#/password" : session.unlocked ? "#/cases" : "#/wait");
    } catch (e) {
      password.value = "";
      status.replaceChildren(alert("error", e instanceof Problem && e.status === 401 ? t("login.failed") : t("error.generic", { detail: String((e as Error).message) })));
    }
  });
  show(h("h1", { class: "utrecht-heading-1" }, t("login.title")), message ? alert("warning", message) : "", form);
}

export function passwordPage(): void {
  const me = session.me;
  if (!me) return go("#/login");
  const first = h("input", { id: "new-password", type: "password", class: "utrecht-textbox utrecht-textbox--password", autocomplete: "new-password", required: true, minlength: "12" });
  const again = h("input", { id: "new-password-again", type: "password", class: "utrecht-textbox utrecht-textbox--password", autocomplete: "new-password", required: true });
  const status = h("div", { role: "status", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "utrecht-form", novalidate: true },
    field("new-password", t("password.new"), first),
    field("new-password-again", t("password.repeat"), again),
    h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("password.submit")),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = first.value;
    const problem = chosen.length < 12 ? t("password.short") : chosen !== again.value ? t("password.differ") : null;
    if (problem) return void status.replaceChildren(alert("error", problem));
    const preview = await ask({ op: "preview", username: me.username, password: chosen });
    if (!preview.ok || preview.login === session.login) return void status.replaceChildren(alert("error", t("password.same")));
    try {
      await call("PUT", "/v1/me/password", {
        password: session.login,
        new_password: preview.login,
        recipient: preview.recipient,
        wrapped_identity: preview.wrapped,
      });
      first.value = again.value = "";
      const again_ = await logIn(me.username, chosen);
      go(session.unlocked ? "#/cases" : again_.wrapped_identity ? "#/cases" : "#/wait");
    } catch (e) {
      status.replaceChildren(alert("error", t("error.generic", { detail: String((e as Error).message) })));
    }
  });
  show(h("h1", { class: "utrecht-heading-1" }, t("password.title")), h("p", { class: "utrecht-paragraph" }, t("password.intro")), form);
}

export function waitPage(): void {
  const retry = h("button", { type: "button", class: "utrecht-button" }, t("wait.retry"));
  retry.addEventListener("click", async () => {
    const me = await call<typeof session.me>("GET", "/v1/me");
    session.me = me;
    if (me?.wrapped_identity) {
      const unlocked = await ask({ op: "unlock", wrapped: me.wrapped_identity });
      session.unlocked = unlocked.ok;
    }
    go(session.unlocked ? "#/cases" : "#/wait");
  });
  show(h("h1", { class: "utrecht-heading-1" }, t("wait.title")), h("p", { class: "utrecht-paragraph" }, t("wait.text")), retry);
}
