// The client's consent on one case, for the care organisation and the coordinator (the roles
// that record it): every declaration with its status; a renewed declaration, which the case
// continues under (sealed by the broker to the declaration's holders: a sealing endpoint); the
// withdrawal (AVG art. 7(3)), at once; the erasure request (AVG art. 17) and the signed
// deletion receipts to hand to the client.
import { call } from "../api.ts";
import { h } from "../dom.ts";
import { formatDate } from "../format.ts";
import { t, tOr } from "../i18n.ts";
import { type FieldSpec, type Policy, toJson } from "../policy.ts";
import { alert, failed, field, go } from "./common.ts";
import { control, problemsOf } from "./register.ts";

interface Consent {
  id: string;
  signed_on: string;
  valid_until: string;
  status: string;
  roles: string[];
  categories: string[];
}

/** A form whose one button acts only once its box is ticked: a step that cannot be undone. */
function confirmed(id: string, intro: string, box: string, button: string, act: () => Promise<unknown>, done: () => void): HTMLElement {
  const tick = h("input", { type: "checkbox", id: `${id}-confirm`, class: "utrecht-checkbox", required: true });
  const status = h("div", { role: "status", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "utrecht-form", id, novalidate: true },
    h("p", { class: "utrecht-paragraph" }, intro),
    h("div", { class: "utrecht-form-field utrecht-form-field--checkbox" }, tick, h("label", { class: "utrecht-form-label utrecht-form-label--checkbox", for: `${id}-confirm` }, box)),
    h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action utrecht-button--danger" }, button),
    status,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!tick.checked) return void status.replaceChildren(alert("error", t("consent.confirm_first")));
    act().then(done, (err: unknown) => failed(status, err));
  });
  return form;
}

/** The renewed declaration: its dates and the signed scan, for the scope of the one in force. */
function renewal(policy: Policy, caseId: string, current: Consent): HTMLElement {
  const values: Record<string, unknown> = {};
  const specs: FieldSpec[] = [
    { id: "renew_signed_on", form: "page", category: "consent", kind: "date", label: t("register.consent.signed"), required: true },
    { id: "renew_valid_until", form: "page", category: "consent", kind: "date", label: t("register.consent.until"), required: true },
    { id: "renew_document", form: "page", category: "consent", kind: "document", label: t("register.consent.document"), required: true, max_bytes: policy.fields.consent_document?.max_bytes },
  ];
  const status = h("div", { role: "status", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "utrecht-form", id: "renewal", novalidate: true },
    h("p", { class: "utrecht-paragraph" }, t("consent.renew.note")),
    ...specs.map((s) => field(`f-${s.id}`, s.label, control(s, values))),
    h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("consent.renew.send")),
    status,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const problems = problemsOf(specs, values);
    if (problems) return void status.replaceChildren(alert("error", problems));
    const body = {
      signed_on: values.renew_signed_on,
      valid_until: values.renew_valid_until,
      roles: current.roles,
      categories: current.categories,
      document: toJson(values.renew_document),
    };
    call("POST", `/v1/cases/${caseId}/consent`, body).then(() => go(`#/cases/${caseId}`), (err: unknown) => failed(status, err));
  });
  return h("section", { "aria-labelledby": "renewal-title" }, h("h3", { class: "utrecht-heading-3", id: "renewal-title" }, t("consent.renew")), form);
}

/** The signed deletion receipts, each to download and hand to the client. */
function receiptList(caseId: string, receipts: string[]): HTMLElement {
  const links = receipts.map((r, i) => {
    const url = URL.createObjectURL(new Blob([r], { type: "text/plain" }));
    const name = `verwijderbewijs-${caseId.slice(0, 8)}-${i + 1}.txt`;
    return h("li", { class: "utrecht-unordered-list__item" }, h("a", { class: "utrecht-link", href: url, download: name, "data-receipt": String(i + 1) }, t("consent.receipt", { n: i + 1 })));
  });
  return h(
    "section",
    { "aria-labelledby": "receipts-title", id: "receipts" },
    h("h3", { class: "utrecht-heading-3", id: "receipts-title" }, t("consent.receipts")),
    h("p", { class: "utrecht-paragraph" }, t("consent.receipts.note")),
    h("ul", { class: "utrecht-unordered-list" }, ...links),
  );
}

/** The consent section of a case for the care organisation or the coordinator; `open` says
 * whether the case still runs (a renewal and a withdrawal need an open case). */
export async function consentPanel(policy: Policy, caseId: string, open: boolean): Promise<HTMLElement> {
  const [chain, receipts] = await Promise.all([
    call<Consent[]>("GET", `/v1/cases/${caseId}/consents`),
    call<{ receipts: string[] }>("GET", `/v1/cases/${caseId}/receipts`).then((r) => r.receipts),
  ]);
  const rows = chain.map((c) =>
    h(
      "tr",
      { class: "utrecht-table__row", "data-consent": c.status },
      h("td", { class: "utrecht-table__cell" }, formatDate(c.signed_on)),
      h("td", { class: "utrecht-table__cell" }, formatDate(c.valid_until)),
      h("td", { class: "utrecht-table__cell" }, tOr(`consent.status.${c.status}`, c.status)),
    ),
  );
  const table = h(
    "table",
    { class: "utrecht-table", id: "consents" },
    h("caption", { class: "utrecht-table__caption" }, t("consent.declarations")),
    h("thead", { class: "utrecht-table__header" }, h("tr", { class: "utrecht-table__row" }, ...[t("register.consent.signed"), t("register.consent.until"), t("consent.status")].map((c) => h("th", { class: "utrecht-table__header-cell", scope: "col" }, c)))),
    h("tbody", { class: "utrecht-table__body" }, ...rows),
  );
  const current = chain.find((c) => c.status === "active");
  const parts: HTMLElement[] = [h("h2", { class: "utrecht-heading-2", id: "consent-title" }, t("consent.title")), chain.length ? table : h("p", { class: "utrecht-paragraph" }, t("consent.none"))];
  if (open && current) {
    parts.push(renewal(policy, caseId, current));
    parts.push(
      h("h3", { class: "utrecht-heading-3" }, t("consent.withdraw")),
      confirmed("withdrawal", t("consent.withdraw.note"), t("consent.withdraw.confirm"), t("consent.withdraw.send"), () => call("POST", `/v1/cases/${caseId}/consent/withdraw`, {}), () => go(`#/cases/${caseId}`)),
    );
  }
  if (receipts.length) parts.push(receiptList(caseId, receipts));
  else
    parts.push(
      h("h3", { class: "utrecht-heading-3" }, t("consent.erasure")),
      confirmed("erasure", t("consent.erasure.note"), t("consent.erasure.confirm"), t("consent.erasure.send"), () => call("POST", `/v1/cases/${caseId}/erasure`, {}), () => go(`#/cases/${caseId}`)),
    );
  return h("section", { "aria-labelledby": "consent-title", id: "consent" }, ...parts);
}
