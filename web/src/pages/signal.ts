// A signal after the match by the corporation or the municipality (art. 9.9, 12): rent
// arrears, nuisance or another problem, sealed by the broker to the care organisation and the
// coordinator (the signal form of the policy; a sealing endpoint).
import { call } from "../api.ts";
import { h } from "../dom.ts";
import { t } from "../i18n.ts";
import type { Policy } from "../policy.ts";
import { alert, failed, go } from "./common.ts";
import { formFields, problemsOf } from "./register.ts";

export function signalPanel(policy: Policy, caseId: string): HTMLElement {
  const values: Record<string, unknown> = {};
  const { specs, fields } = formFields(policy, "signal", values);
  const status = h("div", { role: "status", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "utrecht-form", id: "signal", novalidate: true },
    ...fields,
    h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("signal.send")),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const problems = problemsOf(specs, values);
    if (problems) return void status.replaceChildren(alert("error", problems));
    try {
      await call("POST", `/v1/cases/${caseId}/signals`, { fields: values });
      go(`#/cases/${caseId}`);
    } catch (e) {
      failed(status, e);
    }
  });
  return h("section", { "aria-labelledby": "signal-title" }, h("h2", { class: "utrecht-heading-2", id: "signal-title" }, t("signal.title")), h("p", { class: "utrecht-paragraph" }, t("signal.intro")), form);
}
