// Applications to the municipality of the home (art. 9.7, 12): the care organisation applies
// for guidance or special assistance after the match, and its page re-shares to that
// municipality what its decision needs (the categories held back at referral, policy
// `[until_application]`), opened here; the municipality applied to records its decision. The
// broker keeps the clock: each application shows its last day and whether it is overdue.
import { call } from "../api.ts";
import { h } from "../dom.ts";
import { formatDate } from "../format.ts";
import { t, tOr } from "../i18n.ts";
import { atReferral, type FieldSpec, type Policy, toJson } from "../policy.ts";
import { alert, failed, field, go } from "./common.ts";
import { formFields, problemsOf } from "./register.ts";

export interface Application {
  id: string;
  municipality: string;
  kind: string;
  applied_at: string;
  due_on: string;
  outcome?: string | null;
  decided_on?: string | null;
  overdue: boolean;
  decision_days?: number | null;
}

/** The case's applications with their deadlines and decisions. */
function list(policy: Policy, applications: Application[]): HTMLElement {
  if (!applications.length) return h("p", { class: "utrecht-paragraph" }, t("apply.none"));
  const head = [t("apply.kind"), t("apply.municipality"), t("apply.applied"), t("apply.due"), t("apply.outcome")];
  return h(
    "table",
    { class: "utrecht-table", id: "applications" },
    h("thead", { class: "utrecht-table__header" }, h("tr", { class: "utrecht-table__row" }, ...head.map((x) => h("th", { class: "utrecht-table__header-cell", scope: "col" }, x)))),
    h(
      "tbody",
      { class: "utrecht-table__body" },
      ...applications.map((a) => {
        const outcome = a.outcome ? `${tOr(`apply.outcome.${a.outcome}`, a.outcome)} (${formatDate(a.decided_on ?? "")})` : a.overdue ? t("apply.overdue") : t("apply.open");
        const cells = [tOr(`apply.kind.${a.kind}`, a.kind), policy.parties[a.municipality]?.name ?? a.municipality, formatDate(a.applied_at), formatDate(a.due_on), outcome];
        return h("tr", { class: "utrecht-table__row", "data-application": a.id }, ...cells.map((c) => h("td", { class: "utrecht-table__cell" }, c)));
      }),
    ),
  );
}

/** The care organisation's application to `home`, re-sharing what its decision needs. */
function applyForm(policy: Policy, caseId: string, home: string, opened: Record<string, unknown>): HTMLElement {
  const values: Record<string, unknown> = {};
  const { specs, fields } = formFields(policy, "application", values);
  const kinds = Object.entries(policy.applications ?? {});
  const kind = h("select", { id: "application-kind", class: "utrecht-select" }, ...kinds.map(([id, k]) => h("option", { value: id }, `${tOr(`apply.kind.${id}`, id)} (${t("apply.days", { days: String(k.days) })})`)));
  const status = h("div", { role: "status", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "utrecht-form", id: "application", novalidate: true },
    field("application-kind", t("apply.kind"), kind),
    ...fields,
    h("p", { class: "utrecht-paragraph" }, t("apply.reshare", { municipality: policy.parties[home]?.name ?? home })),
    h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("apply.send")),
    status,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const problems = problemsOf(specs, values);
    if (problems) return void status.replaceChildren(alert("error", problems));
    // What the municipality's role is granted beyond what it received at referral.
    const role = policy.parties[home]?.role ?? "municipality";
    const needed: Record<string, unknown> = {};
    for (const [id, value] of Object.entries(opened)) {
      const spec = policy.fields[id] as FieldSpec | undefined;
      if (spec && policy.categories[spec.category]?.roles.includes(role) && !atReferral(policy, role, spec.category)) needed[id] = toJson(value);
    }
    const shares = Object.keys(needed).length ? [{ recipients: [home], fields: needed }] : [];
    const body = { kind: kind.value, fields: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, toJson(v)])), shares };
    call("POST", `/v1/cases/${caseId}/applications`, body).then(() => go(`#/cases/${caseId}`), (err: unknown) => failed(status, err));
  });
  return h("section", { "aria-labelledby": "apply-title" }, h("h3", { class: "utrecht-heading-3", id: "apply-title" }, t("apply.new")), form);
}

/** The municipality's decision on one application. */
function decideForm(policy: Policy, caseId: string, a: Application): HTMLElement {
  const values: Record<string, unknown> = {};
  const { specs, fields } = formFields(policy, "decision", values);
  const prefix = `decision-${a.id}`;
  const outcome = h("select", { id: `${prefix}-outcome`, class: "utrecht-select" }, ...["granted", "partly", "refused"].map((o) => h("option", { value: o }, t(`apply.outcome.${o}` as "apply.outcome.granted"))));
  const on = h("input", { id: `${prefix}-on`, type: "date", class: "utrecht-textbox", required: true });
  const status = h("div", { role: "status", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "utrecht-form decision", id: prefix, novalidate: true },
    field(`${prefix}-outcome`, t("apply.outcome"), outcome),
    field(`${prefix}-on`, t("apply.decided_on"), on),
    ...fields,
    h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("apply.decide")),
    status,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const problems = problemsOf(specs, values);
    if (problems || !on.value) return void status.replaceChildren(alert("error", problems ?? t("field.required")));
    const body = { outcome: outcome.value, decided_on: on.value, fields: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, toJson(v)])) };
    call("POST", `/v1/cases/${caseId}/applications/${a.id}/decision`, body).then(() => go(`#/cases/${caseId}`), (err: unknown) => failed(status, err));
  });
  const title = `${tOr(`apply.kind.${a.kind}`, a.kind)}, ${t("apply.due")} ${formatDate(a.due_on)}`;
  return h("section", { "aria-label": title }, h("h3", { class: "utrecht-heading-3" }, title), form);
}

/** Applications of a case after the match: the list, the care organisation's new one, and
 * the decisions the municipality applied to still owes. */
export function applicationPanel(
  policy: Policy,
  caseId: string,
  who: { role: string; organisation: string },
  home: string | null,
  applications: Application[],
  opened: Record<string, unknown>,
): HTMLElement {
  const parts: HTMLElement[] = [list(policy, applications)];
  if (who.role === "care" && home) parts.push(applyForm(policy, caseId, home, opened));
  if (who.role === "municipality") {
    for (const a of applications.filter((x) => x.municipality === who.organisation && !x.outcome)) parts.push(decideForm(policy, caseId, a));
  }
  return h("section", { "aria-labelledby": "applications-title" }, h("h2", { class: "utrecht-heading-2", id: "applications-title" }, t("apply.title")), ...parts);
}
