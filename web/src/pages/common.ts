// Pieces every page uses: alerts, what went wrong, labelled fields, navigation.
import { Problem } from "../api.ts";
import { h } from "../dom.ts";
import { t, tOr } from "../i18n.ts";
import { session } from "../session.ts";

/** An NL Design System alert; errors are announced at once. */
export function alert(kind: "info" | "ok" | "warning" | "error", text: string): HTMLElement {
  return h(
    "div",
    { class: `utrecht-alert utrecht-alert--${kind}`, role: kind === "error" ? "alert" : undefined },
    h("p", { class: "utrecht-paragraph" }, text),
  );
}

/** What went wrong, for the person at the page: a sentence in the page's language for the
 * kind of problem (its HTTP status), with the broker's own detail (as the API writes it, in
 * English) or each field it names beside it. */
export function problemAlert(e: unknown): HTMLElement {
  if (!(e instanceof Problem)) return alert("error", t("error.generic", { detail: (e as Error).message }));
  const label = (field: string) => session.policy?.fields[field]?.label ?? field;
  const detail = e.errors.length ? e.errors.map((p) => `${label(p.field)}: ${p.problem}`).join("; ") : e.detail;
  const sentence = tOr(`problem.${e.status}`, e.status >= 500 ? t("problem.5xx") : t("problem.4xx"));
  return h(
    "div",
    { class: "utrecht-alert utrecht-alert--error", role: "alert", "data-status": String(e.status) },
    h("div", {}, h("p", { class: "utrecht-paragraph" }, sentence), detail ? h("p", { class: "utrecht-paragraph" }, t("problem.detail", { detail })) : null),
  );
}

/** Shows what went wrong in a form's status line. */
export function failed(status: HTMLElement, e: unknown): void {
  status.replaceChildren(problemAlert(e));
}

/** A form field: its label, the control, an optional description and error message. */
export function field(id: string, label: string, control: HTMLElement, help?: string, error?: string | null): HTMLElement {
  const described: string[] = [];
  if (help) described.push(`${id}-help`);
  if (error) described.push(`${id}-error`);
  // The description and the error belong to the control itself, also inside a wrapper.
  const target = control.matches("input, select, textarea, [role=radiogroup]") ? control : (control.querySelector("input, select, textarea") ?? control);
  if (described.length) target.setAttribute("aria-describedby", described.join(" "));
  if (error) target.setAttribute("aria-invalid", "true");
  return h(
    "div",
    { class: `utrecht-form-field${error ? " utrecht-form-field--invalid" : ""}` },
    h("div", { class: "utrecht-form-field__label" }, h("label", { class: "utrecht-form-label", for: id }, label)),
    help ? h("div", { class: "utrecht-form-field-description", id: `${id}-help` }, help) : null,
    error ? h("div", { class: "utrecht-form-field-error-message", id: `${id}-error` }, error) : null,
    h("div", { class: "utrecht-form-field__input" }, control),
  );
}

/** Goes to a page. */
export function go(hash: string): void {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}
