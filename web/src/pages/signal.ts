// A signal after the match by the corporation or the municipality (art. 9.9, 12): rent
// arrears, nuisance or another problem, sealed by the broker to the care organisation and the
// coordinator (the signal form of the policy; a sealing endpoint).
import { call, Problem } from "../api.ts";
import { h } from "../dom.ts";
import { t } from "../i18n.ts";
import { check, type FieldSpec, type Policy } from "../policy.ts";
import { alert, field, go } from "./common.ts";
import { control } from "./register.ts";

export function signalPanel(policy: Policy, caseId: string): HTMLElement {
  const values: Record<string, unknown> = {};
  const specs = (policy.forms.signal?.fields ?? []).map((id) => policy.fields[id]).filter((s): s is FieldSpec => Boolean(s));
  const status = h("div", { role: "status", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "utrecht-form", id: "signal", novalidate: true },
    ...specs.map((s) => field(`f-${s.id}`, s.label, control(s, values), s.help)),
    h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("signal.send")),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const problems = specs.map((s) => [s, check(s, values[s.id])] as const).filter(([, p]) => p);
    if (problems.length) return void status.replaceChildren(alert("error", problems.map(([s, p]) => `${s.label}: ${p}`).join(" ")));
    try {
      await call("POST", `/v1/cases/${caseId}/signals`, { fields: values });
      go(`#/cases/${caseId}`);
    } catch (e) {
      status.replaceChildren(alert("error", t("error.generic", { detail: e instanceof Problem ? e.detail : (e as Error).message })));
    }
  });
  return h("section", { "aria-labelledby": "signal-title" }, h("h2", { class: "utrecht-heading-2", id: "signal-title" }, t("signal.title")), h("p", { class: "utrecht-paragraph" }, t("signal.intro")), form);
}
