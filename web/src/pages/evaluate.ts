// The care guide's later papers: the half-yearly evaluation in the uniform format (art. 9.10)
// and documents uploaded later (the perspective plan, art. 7.1). Both are sealing endpoints:
// the broker seals what arrives to the parties entitled to it.
import { call, upload } from "../api.ts";
import { h } from "../dom.ts";
import { t } from "../i18n.ts";
import { check, type Policy, toJson } from "../policy.ts";
import { alert, failed, field, go } from "./common.ts";
import { formFields, problemsOf } from "./register.ts";


export function evaluationPanel(policy: Policy, caseId: string): HTMLElement {
  const values: Record<string, unknown> = {};
  const { specs, fields: controls } = formFields(policy, "evaluation", values);
  const period = h("select", { id: "evaluation-period", class: "utrecht-select" }, h("option", { value: "1" }, t("evaluate.first")), h("option", { value: "2" }, t("evaluate.second")));
  const status = h("div", { role: "status", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "utrecht-form", id: "evaluation", novalidate: true },
    field("evaluation-period", t("evaluate.period"), period),
    ...controls,
    h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("evaluate.send")),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const problems = problemsOf(specs, values);
    if (problems) return void status.replaceChildren(alert("error", problems));
    const fields = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, toJson(v)]));
    try {
      await call("POST", `/v1/cases/${caseId}/evaluations`, { period: Number(period.value), fields });
      go(`#/cases/${caseId}`);
    } catch (e) {
      failed(status, e);
    }
  });
  return h("section", { "aria-labelledby": "evaluate-title" }, h("h2", { class: "utrecht-heading-2", id: "evaluate-title" }, t("evaluate.title")), form);
}

export function documentPanel(policy: Policy, caseId: string, changes: string[]): HTMLElement | null {
  const docs = Object.values(policy.fields).filter((s) => s.kind === "document" && changes.includes(s.category));
  if (!docs.length) return null;
  const status = h("div", { role: "status", "aria-live": "polite" });
  const pick = h("select", { id: "document-field", class: "utrecht-select" }, ...docs.map((s) => h("option", { value: s.id }, s.label)));
  const file = h("input", { id: "document-file", type: "file", class: "utrecht-textbox" });
  const form = h(
    "form",
    { class: "utrecht-form", id: "document", novalidate: true },
    field("document-field", t("document.which"), pick),
    field("document-file", t("document.file"), file),
    h("button", { type: "submit", class: "utrecht-button" }, t("document.send")),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files?.[0];
    const spec = policy.fields[pick.value];
    if (!chosen || !spec) return void status.replaceChildren(alert("error", t("document.none")));
    const bytes = new Uint8Array(await chosen.arrayBuffer());
    const problem = check(spec, bytes);
    if (problem) return void status.replaceChildren(alert("error", problem));
    try {
      await upload(`/v1/cases/${caseId}/documents/${spec.id}`, bytes);
      go(`#/cases/${caseId}`);
    } catch (e) {
      failed(status, e);
    }
  });
  return h("section", { "aria-labelledby": "document-title" }, h("h2", { class: "utrecht-heading-2", id: "document-title" }, t("document.title")), form);
}
