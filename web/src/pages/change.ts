// A change report by the care guide (the answer to the coordinator's question, or news about
// the client): one field of the registration form with its new value. The change report is
// one of the sealing endpoints: the broker seals the value to every party entitled to it.
import { call } from "../api.ts";
import { h } from "../dom.ts";
import { t } from "../i18n.ts";
import { check, type Policy, toJson } from "../policy.ts";
import { alert, failed, field, go } from "./common.ts";
import { control } from "./register.ts";

export function changePanel(policy: Policy, caseId: string): HTMLElement {
  const ids = policy.forms.registration?.fields ?? [];
  const values: Record<string, unknown> = {};
  const status = h("div", { role: "status", "aria-live": "polite" });
  const slot = h("div", {});
  const pick = h("select", { id: "change-field", class: "utrecht-select" }, h("option", { value: "" }, t("field.choose")), ...ids.map((id) => h("option", { value: id }, policy.fields[id]?.label ?? id)));
  pick.addEventListener("change", () => {
    const spec = policy.fields[pick.value];
    slot.replaceChildren(spec ? field(`f-${spec.id}`, t("change.value"), control(spec, values), spec.help) : "");
  });
  const send = h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("change.send"));
  const form = h("form", { class: "utrecht-form", id: "change", novalidate: true }, field("change-field", t("change.field"), pick), slot, send, status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const spec = policy.fields[pick.value];
    if (!spec) return void status.replaceChildren(alert("error", t("change.pick")));
    const problem = check({ ...spec, required: true }, values[spec.id]);
    if (problem) return void status.replaceChildren(alert("error", `${spec.label}: ${problem}`));
    const value = values[spec.id];
    try {
      await call("POST", `/v1/cases/${caseId}/changes`, { fields: { [spec.id]: toJson(value) } });
      go(`#/cases/${caseId}`);
    } catch (e) {
      failed(status, e);
    }
  });
  return h("section", { "aria-labelledby": "change-title" }, h("h2", { class: "utrecht-heading-2", id: "change-title" }, t("change.title")), form);
}
