// A case that talks both ways: the messages and reports the organisation wrote or received,
// each opened here from its slice (the broker keeps only who wrote to whom, about what, when),
// an acknowledgement for a report addressed to it (art. 15, 16), and a new message to parties
// it picks, about a category each of their roles may see (sealed by the broker: a sealing
// endpoint).
import { call } from "../api.ts";
import { h } from "../dom.ts";
import { formatDate } from "../format.ts";
import { t, tOr } from "../i18n.ts";
import { type Policy, toJson } from "../policy.ts";
import { alert, failed, field, go } from "./common.ts";
import { formFields, problemsOf } from "./register.ts";

export interface Message {
  id: string;
  kind: string;
  sender: string;
  about: string;
  to: { org: string; acknowledged_at?: string }[];
  sent_at: string;
  held_on?: string;
  reply_to?: string;
}

interface Party {
  org_id: string;
  role: string;
}

/** The categories a report is sealed under: not a message's subject. */
const REPORT_CATEGORIES = ["consultation", "handover"];

function nameOf(policy: Policy, org: string): string {
  return policy.parties[org]?.name ?? org;
}

/** The line saying which message `m` answers, if it answers one this organisation sees. */
function answered(policy: Policy, m: Message, thread: Message[]): HTMLElement[] {
  const first = m.reply_to ? thread.find((o) => o.id === m.reply_to) : undefined;
  if (!first) return [];
  return [h("p", { class: "utrecht-paragraph", "data-reply-to": first.id }, t("thread.answers", { sender: nameOf(policy, first.sender), at: formatDate(first.sent_at) }))];
}

/** One message or report with its opened text and who acknowledged it; `reply` (on an open
 * case) starts an answer to a message another party wrote. */
function entry(policy: Policy, caseId: string, me: string, m: Message, texts: Record<string, unknown>, thread: Message[], reply: ((m: Message) => void) | null): HTMLElement {
  const fields = Object.entries(texts)
    .filter(([id]) => policy.fields[id]?.kind !== "document")
    .map(([id, value]) => h("div", { class: "utrecht-data-list__item" }, h("dt", { class: "utrecht-data-list__item-key" }, policy.fields[id]?.label ?? id), h("dd", { class: "utrecht-data-list__item-value", "data-message-field": id }, String(value))));
  const to = m.to.map((a) => (m.kind === "message" ? nameOf(policy, a.org) : `${nameOf(policy, a.org)}: ${a.acknowledged_at ? t("thread.acknowledged", { at: formatDate(a.acknowledged_at) }) : t("thread.pending")}`));
  const parts: (Node | string)[] = [
    h("h3", { class: "utrecht-heading-3" }, `${tOr(`thread.kind.${m.kind}`, m.kind)} — ${nameOf(policy, m.sender)}, ${formatDate(m.sent_at)}`),
    h("p", { class: "utrecht-paragraph" }, `${t("thread.about")}: ${tOr(`category.${m.about}`, m.about)}${m.held_on ? ` · ${t("thread.held_on")}: ${formatDate(m.held_on)}` : ""}`),
    h("p", { class: "utrecht-paragraph" }, `${t("thread.to")}: ${to.join("; ")}`),
    ...answered(policy, m, thread),
    fields.length ? h("dl", { class: "utrecht-data-list" }, ...fields) : h("p", { class: "utrecht-paragraph" }, t("thread.unreadable")),
  ];
  if (reply && m.kind === "message" && m.sender !== me) {
    const button = h("button", { type: "button", class: "utrecht-button utrecht-button--secondary-action", "data-reply": m.id }, t("thread.reply"));
    button.addEventListener("click", () => reply(m));
    parts.push(h("p", { class: "utrecht-paragraph" }, button));
  }
  const mine = m.to.find((a) => a.org === me);
  if (m.kind !== "message" && mine && !mine.acknowledged_at) {
    const status = h("div", { role: "status", "aria-live": "polite" });
    const button = h("button", { type: "button", class: "utrecht-button utrecht-button--primary-action", "data-acknowledge": m.id }, t("thread.acknowledge"));
    button.addEventListener("click", () => {
      call("POST", `/v1/cases/${caseId}/reports/${m.id}/acknowledgement`, {}).then(() => go(`#/cases/${caseId}`), (e: unknown) => failed(status, e));
    });
    parts.push(h("p", { class: "utrecht-paragraph" }, button), status);
  }
  return h("article", { class: "thread-entry", "data-message": m.id }, ...parts);
}

/** The form for a new message: the parties, the subject, the text; `reply` turns it into
 * the answer to a message, to its sender about its subject. */
function compose(policy: Policy, caseId: string, role: string, me: string, parties: Party[]): { section: HTMLElement; reply: (m: Message) => void } {
  const status = h("div", { role: "status", "aria-live": "polite" });
  const subjects = Object.entries(policy.categories).filter(([id, c]) => !REPORT_CATEGORIES.includes(id) && c.roles.includes(role));
  const about = h("select", { id: "message-about", class: "utrecht-select" }, ...subjects.map(([id]) => h("option", { value: id, selected: id === "message" }, tOr(`category.${id}`, id))));
  const text = h("textarea", { id: "message-text", class: "utrecht-textarea", rows: "4", maxlength: "4000" });
  const others = parties.filter((p) => p.org_id !== me);
  const boxes = others.map((p) => {
    const box = h("input", { type: "checkbox", id: `to-${p.org_id}`, value: p.org_id, class: "utrecht-checkbox" });
    return { party: p, box, row: h("div", { class: "utrecht-form-field utrecht-form-field--checkbox" }, box, h("label", { class: "utrecht-form-label utrecht-form-label--checkbox", for: `to-${p.org_id}` }, nameOf(policy, p.org_id))) };
  });
  // Only parties whose role the subject's category grants can be addressed.
  const narrow = () => {
    const roles = policy.categories[about.value]?.roles ?? [];
    for (const b of boxes) {
      const allowed = roles.includes(b.party.role);
      b.box.disabled = !allowed;
      if (!allowed) b.box.checked = false;
      b.row.hidden = !allowed;
    }
  };
  about.addEventListener("change", narrow);
  narrow();
  let replyTo: string | undefined;
  const answering = h("div", { id: "message-answering" });
  const reply = (m: Message) => {
    replyTo = m.id;
    if ([...about.options].some((o) => o.value === m.about)) about.value = m.about;
    narrow();
    for (const b of boxes) b.box.checked = b.party.org_id === m.sender && !b.box.disabled;
    const cancel = h("button", { type: "button", class: "utrecht-button utrecht-button--subtle" }, t("thread.reply.cancel"));
    cancel.addEventListener("click", () => {
      replyTo = undefined;
      answering.replaceChildren();
      about.focus();
    });
    answering.replaceChildren(alert("info", t("thread.answering", { sender: nameOf(policy, m.sender), at: formatDate(m.sent_at) })), h("p", { class: "utrecht-paragraph" }, cancel));
    text.focus();
  };
  const form = h(
    "form",
    { class: "utrecht-form", id: "message", novalidate: true },
    answering,
    field("message-about", t("thread.about"), about, t("thread.about.help")),
    h("fieldset", { class: "utrecht-form-fieldset" }, h("legend", { class: "utrecht-form-fieldset__legend" }, t("thread.to")), ...boxes.map((b) => b.row)),
    field("message-text", t("thread.text"), text),
    h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("thread.send")),
    status,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const to = boxes.filter((b) => b.box.checked).map((b) => b.party.org_id);
    if (!to.length || !text.value.trim()) return void status.replaceChildren(alert("error", t("thread.incomplete")));
    const body = { to, about: about.value, fields: { message_text: text.value }, ...(replyTo ? { reply_to: replyTo } : {}) };
    call("POST", `/v1/cases/${caseId}/messages`, body).then(() => go(`#/cases/${caseId}`), (err: unknown) => failed(status, err));
  });
  return { section: h("section", { "aria-labelledby": "compose-title" }, h("h3", { class: "utrecht-heading-3", id: "compose-title" }, t("thread.new")), form), reply };
}

/** Checkboxes for the parties other than `me` whose role may receive `category`. */
function addressees(policy: Policy, prefix: string, me: string, parties: Party[], category: string) {
  const roles = policy.categories[category]?.roles ?? [];
  return parties
    .filter((p) => p.org_id !== me && roles.includes(p.role))
    .map((p) => {
      const box = h("input", { type: "checkbox", id: `${prefix}-${p.org_id}`, value: p.org_id, class: "utrecht-checkbox" });
      return { box, row: h("div", { class: "utrecht-form-field utrecht-form-field--checkbox" }, box, h("label", { class: "utrecht-form-label utrecht-form-label--checkbox", for: `${prefix}-${p.org_id}` }, nameOf(policy, p.org_id))) };
    });
}

/** The report of a meeting (art. 9, 15: the coordinator; art. 16: the municipality of the
 * home) for the parties that took part, each asked to acknowledge it. */
function reportForm(policy: Policy, caseId: string, me: string, parties: Party[], kinds: string[]): HTMLElement {
  const form = kinds[0] === "handover" ? "handover" : "consultation";
  const values: Record<string, unknown> = {};
  const { specs, fields } = formFields(policy, form, values);
  const kind = h("select", { id: "report-kind", class: "utrecht-select" }, ...kinds.map((k) => h("option", { value: k }, tOr(`thread.kind.${k}`, k))));
  const held = h("input", { id: "report-held-on", type: "date", class: "utrecht-textbox", required: true });
  const boxes = addressees(policy, "took-part", me, parties, form);
  const status = h("div", { role: "status", "aria-live": "polite" });
  const element = h(
    "form",
    { class: "utrecht-form", id: "report", novalidate: true },
    field("report-kind", t("thread.report.kind"), kind),
    field("report-held-on", t("thread.held_on"), held),
    h("fieldset", { class: "utrecht-form-fieldset" }, h("legend", { class: "utrecht-form-fieldset__legend" }, t("thread.report.took_part")), ...boxes.map((b) => b.row)),
    ...fields,
    h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("thread.report.send")),
    status,
  );
  element.addEventListener("submit", (e) => {
    e.preventDefault();
    const to = boxes.filter((b) => b.box.checked).map((b) => b.box.value);
    const problems = problemsOf(specs, values);
    if (problems) return void status.replaceChildren(alert("error", problems));
    if (!to.length || !held.value) return void status.replaceChildren(alert("error", t("thread.report.incomplete")));
    const body = { kind: kind.value, held_on: held.value, to, fields: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, toJson(v)])) };
    call("POST", `/v1/cases/${caseId}/reports`, body).then(() => go(`#/cases/${caseId}`), (err: unknown) => failed(status, err));
  });
  return h("section", { "aria-labelledby": "report-title" }, h("h3", { class: "utrecht-heading-3", id: "report-title" }, t("thread.report.new")), element);
}

/** The thread of the case as this organisation takes part in it, a new message if the case
 * is open, and the reports it may record (`reports`: their kinds). */
export function threadPanel(
  policy: Policy,
  caseId: string,
  who: { role: string; organisation: string },
  parties: Party[],
  thread: Message[],
  items: Map<string, Record<string, unknown>>,
  open: boolean,
  reports: string[],
): HTMLElement {
  const writing = open ? compose(policy, caseId, who.role, who.organisation, parties) : null;
  const entries = thread.map((m) => entry(policy, caseId, who.organisation, m, items.get(m.id) ?? {}, thread, writing?.reply ?? null));
  return h(
    "section",
    { "aria-labelledby": "thread-title", id: "thread" },
    h("h2", { class: "utrecht-heading-2", id: "thread-title" }, t("thread.title")),
    entries.length ? h("div", {}, ...entries) : h("p", { class: "utrecht-paragraph" }, t("thread.none")),
    ...(writing ? [writing.section] : []),
    ...(open && reports.length ? [reportForm(policy, caseId, who.organisation, parties, reports)] : []),
  );
}
