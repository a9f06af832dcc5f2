// Pieces every page uses: alerts, labelled fields, navigation.
import { h } from "../dom.ts";

/** An NL Design System alert; errors are announced at once. */
export function alert(kind: "info" | "ok" | "warning" | "error", text: string): HTMLElement {
  return h(
    "div",
    { class: `utrecht-alert utrecht-alert--${kind}`, role: kind === "error" ? "alert" : undefined },
    h("p", { class: "utrecht-paragraph" }, text),
  );
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
