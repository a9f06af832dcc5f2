// The coordinator's assessment of a registration: the art. 7 criteria as the form's rules,
// evaluated here on the opened fields (an aid beside the fields; the decision stays the
// coordinator's), the checklist of the assessment form, and accept / reject / ask.
import { call } from "../api.ts";
import { h } from "../dom.ts";
import { t } from "../i18n.ts";
import { type Policy, rulesOn } from "../policy.ts";
import { failed, field, go } from "./common.ts";

/** The rules of the registration form on the opened values, each met or not. */
export function criteriaAid(policy: Policy, values: Record<string, unknown>): HTMLElement {
  const results = rulesOn(policy.forms.registration?.rules ?? [], values);
  return h(
    "section",
    { "aria-labelledby": "aid", id: "criteria-aid" },
    h("h2", { class: "utrecht-heading-2", id: "aid" }, t("assess.aid")),
    h("p", { class: "utrecht-paragraph" }, t("assess.aid.note")),
    h(
      "ul",
      { class: "utrecht-unordered-list" },
      ...results.map(({ rule, met }) =>
        h("li", { class: "utrecht-unordered-list__item", "data-met": String(met) }, `${met ? t("assess.met") : t("assess.not_met")} — art. ${rule.article}: ${rule.text}`),
      ),
    ),
  );
}

/** The assessment form: the checklist, a question or reason, and the decision. */
export function assessPanel(policy: Policy, caseId: string): HTMLElement {
  const spec = policy.fields.criteria_checklist;
  const criteria = spec?.criteria ?? [];
  const status = h("div", { role: "status", "aria-live": "polite" });
  const rows = criteria.map((c) => {
    const select = h(
      "select",
      { id: `crit-${c.id}`, class: "utrecht-select", "data-criterion": c.id },
      h("option", { value: "met" }, t("assess.status.met")),
      h("option", { value: "not_met" }, t("assess.status.not_met")),
      h("option", { value: "not_applicable" }, t("assess.status.not_applicable")),
    );
    return field(`crit-${c.id}`, `art. ${c.article}: ${c.label}`, select);
  });
  const notes = h("textarea", { id: "coordinator-notes", class: "utrecht-textarea", rows: "3" });
  const reason = h("textarea", { id: "decision-reason", class: "utrecht-textarea", rows: "3" });
  const decision = h("select", { id: "decision", class: "utrecht-select" }, h("option", { value: "accept" }, t("assess.accept")), h("option", { value: "reject" }, t("assess.reject")), h("option", { value: "request_info" }, t("assess.request_info")));
  const form = h(
    "form",
    { class: "utrecht-form", id: "assessment", novalidate: true },
    h("fieldset", { class: "utrecht-form-fieldset" }, h("legend", { class: "utrecht-form-fieldset__legend" }, t("assess.checklist")), ...rows),
    field("decision", t("assess.decision"), decision),
    field("coordinator-notes", t("assess.question"), notes, t("assess.question.help")),
    field("decision-reason", t("assess.reason"), reason, t("assess.reason.help")),
    h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("assess.send")),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const checklist = Object.fromEntries(
      criteria.map((c) => [c.id, { status: (form.querySelector(`#crit-${c.id}`) as HTMLSelectElement).value }]),
    );
    const fields: Record<string, unknown> = {};
    if (decision.value !== "request_info") fields.criteria_checklist = checklist;
    if (notes.value.trim()) fields.coordinator_notes = notes.value.trim();
    if (reason.value.trim()) fields.decision_reason = reason.value.trim();
    try {
      await call("POST", `/v1/cases/${caseId}/assessment`, { decision: decision.value, fields });
      go(`#/cases/${caseId}`);
    } catch (e) {
      failed(status, e);
    }
  });
  return h("section", { "aria-labelledby": "assess" }, h("h2", { class: "utrecht-heading-2", id: "assess" }, t("assess.title")), form);
}
