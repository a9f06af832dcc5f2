// One case: its history and every field the organisation's slice holds, opened here.
import { call, Problem } from "../api.ts";
import { h, show } from "../dom.ts";
import { formatDate, formatEur } from "../format.ts";
import { t, tOr } from "../i18n.ts";
import { ask } from "../keys.ts";
import { decode, type FieldSpec } from "../policy.ts";
import { session } from "../session.ts";
import { assessPanel, criteriaAid } from "./assess.ts";
import { purposeOf } from "./cases.ts";
import { type Application, applicationPanel } from "./apply.ts";
import { changePanel } from "./change.ts";
import { consentPanel } from "./consent.ts";
import { endPanel } from "./end.ts";
import { documentPanel, evaluationPanel } from "./evaluate.ts";
import { homePanel } from "./home.ts";
import { signalPanel } from "./signal.ts";
import { type Message, threadPanel } from "./thread.ts";
import { alert, go } from "./common.ts";
import { referPanel } from "./refer.ts";

interface SliceFile {
  id: string;
  field: string;
  category: string;
  item?: string;
  age: string;
}

/** A value as a person reads it. */
function shown(spec: FieldSpec, value: unknown): Node | string {
  switch (spec.kind) {
    case "amount_eur":
      return formatEur(Number(value));
    case "date":
      return formatDate(String(value));
    case "boolean":
      return value ? t("case.yes") : t("case.no");
    case "list":
      return h("ul", { class: "utrecht-unordered-list" }, ...(value as string[]).map((v) => h("li", { class: "utrecht-unordered-list__item" }, v)));
    case "document": {
      const url = URL.createObjectURL(new Blob([new Uint8Array(value as Uint8Array)]));
      return h("a", { class: "utrecht-link", href: url, download: `${spec.id}` }, t("case.download"));
    }
    case "checklist":
      return h(
        "ul",
        { class: "utrecht-unordered-list" },
        ...Object.entries(value as Record<string, { status: string; note?: string }>).map(([id, a]) =>
          h("li", { class: "utrecht-unordered-list__item" }, `${spec.criteria?.find((c) => c.id === id)?.label ?? id}: ${a.status}${a.note ? ` — ${a.note}` : ""}`),
        ),
      );
    default:
      return String(value);
  }
}

export async function casePage(id: string): Promise<void> {
  const me = session.me;
  const policy = session.policy;
  if (!me || !policy) return go("#/login");
  const meta = await call<{ id: string; state: string; states: string[]; created_at: string; home_municipality: string | null; matched_by: string | null; parties: { org_id: string; role: string }[] }>(
    "GET",
    `/v1/cases/${id}`,
  );
  // A case whose consent no longer holds (expired, withdrawn) or whose access ended serves
  // nothing: the page still shows its history and, to whoever records consent, the consent.
  let refused: string | null = null;
  const unless = <T>(answer: Promise<T>, nothing: T): Promise<T> =>
    answer.catch((e: unknown) => {
      if (!(e instanceof Problem) || ![403, 410].includes(e.status)) throw e;
      refused = e.detail;
      return nothing;
    });
  const slice = await unless(call<{ fields: SliceFile[]; withheld: { category: string }[] }>("GET", `/v1/cases/${id}/slice?purpose=${purposeOf(me.role)}`), { fields: [], withheld: [] });
  const thread = await unless(call<Message[]>("GET", `/v1/cases/${id}/messages`), []);
  const opened = await ask({ op: "open", files: slice.fields.map((f) => ({ id: f.id, age: f.age })) });
  if (!opened.ok) return void show(alert("error", t("error.locked")));
  const groups = new Map<string, HTMLElement[]>();
  const values: Record<string, unknown> = {};
  // An item (an application, a decision, a signal, a message, a report) is shown apart.
  const items = new Map<string, Record<string, unknown>>();
  for (const f of slice.fields) {
    const spec = policy.fields[f.field];
    const bytes = opened.opened?.[f.id];
    if (!spec || !bytes) continue;
    if (f.item) {
      items.set(f.item, { ...(items.get(f.item) ?? {}), [spec.id]: decode(spec, bytes) });
      continue;
    }
    values[spec.id] = decode(spec, bytes);
    const row = [
      h("dt", { class: "utrecht-data-list__item-key" }, spec.label),
      h("dd", { class: "utrecht-data-list__item-value", "data-field": spec.id }, shown(spec, values[spec.id])),
    ];
    groups.set(f.category, [...(groups.get(f.category) ?? []), h("div", { class: "utrecht-data-list__item" }, ...row)]);
  }
  const order = Object.keys(policy.categories);
  const sorted = [...groups.entries()].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
  const sections = sorted.map(([category, items]) =>
    h(
      "section",
      { "aria-labelledby": `cat-${category}` },
      h("h3", { class: "utrecht-heading-3", id: `cat-${category}` }, tOr(`category.${category}`, category)),
      h("dl", { class: "utrecht-data-list" }, ...items),
    ),
  );
  // Applications, decisions, signals and evaluations: the items that are not messages.
  const messages = new Set(thread.map((m) => m.id));
  const others = [...items.entries()].filter(([item]) => !messages.has(item));
  const itemList = others.map(([item, fields]) =>
    h(
      "dl",
      { class: "utrecht-data-list", "data-item": item },
      ...Object.entries(fields).map(([fid, value]) => {
        const spec = policy.fields[fid] as FieldSpec;
        return h("div", { class: "utrecht-data-list__item" }, h("dt", { class: "utrecht-data-list__item-key" }, spec.label), h("dd", { class: "utrecht-data-list__item-value", "data-field": fid }, shown(spec, value)));
      }),
    ),
  );
  // The coordinator reports consultations (art. 9, 15); the municipality of the home, once
  // the client lives there, the hand-over (art. 16).
  const reportKinds =
    me.role === "coordinator"
      ? ["client_consultation", "outflow_consultation"]
      : me.role === "municipality" && meta.home_municipality === me.organisation && ["housed", "lease_converted"].includes(meta.state)
        ? ["handover"]
        : [];
  const actions: HTMLElement[] = [];
  if (me.role === "coordinator" && meta.state === "registered") actions.push(criteriaAid(policy, values), assessPanel(policy, id));
  if (me.role === "coordinator" && meta.state === "assessed") actions.push(referPanel(policy, id));
  const open = !["rejected", "ended", "withdrawn"].includes(meta.state);
  if (me.role === "care" && open) actions.push(changePanel(policy, id));
  const papers = me.role === "care" && open ? documentPanel(policy, id, policy.changes.categories) : null;
  if (papers) actions.push(papers);
  if (me.role === "care" && ["housed", "lease_converted"].includes(meta.state)) actions.push(evaluationPanel(policy, id));
  const home = me.role === "corporation" ? homePanel(policy, id, meta.state, me.organisation) : null;
  if (home) actions.push(home);
  const after = ["matched", "housed", "lease_converted"].includes(meta.state);
  if (after && (me.role === "corporation" || me.role === "municipality")) actions.push(signalPanel(policy, id));
  const ends = me.role === "coordinator" ? ["referred", "matched", "housed", "lease_converted"] : me.role === "corporation" && meta.matched_by === me.organisation ? ["matched", "housed", "lease_converted"] : [];
  if (ends.includes(meta.state)) actions.push(endPanel(id));
  if (policy.categories.application?.roles.includes(me.role) && (after || meta.home_municipality)) {
    const applications = await call<Application[]>("GET", `/v1/cases/${id}/applications`);
    const home = after ? meta.home_municipality : null;
    actions.push(applicationPanel(policy, id, me, home, applications, values));
  }
  // The roles that record the client's consent keep it up to date, also once the case is closed.
  if (me.role === "care" || me.role === "coordinator") actions.push(await consentPanel(policy, id, open));
  show(
    h("h1", { class: "utrecht-heading-1" }, t("case.title")),
    h("h2", { class: "utrecht-heading-2" }, t("case.history")),
    h("ol", { class: "utrecht-ordered-list" }, ...meta.states.map((s) => h("li", {}, tOr(`state.${s}`, s)))),
    h("h2", { class: "utrecht-heading-2" }, t("case.fields")),
    refused ? alert("info", meta.state === "withdrawn" ? t("case.refused.withdrawn") : t("case.refused", { detail: refused })) : "",
    sections.length ? h("div", {}, ...sections) : refused ? "" : h("p", { class: "utrecht-paragraph" }, t("case.none")),
    ...(itemList.length ? [h("h2", { class: "utrecht-heading-2" }, t("case.items")), ...itemList] : []),
    threadPanel(policy, id, me, meta.parties, thread, items, open, reportKinds),
    ...actions,
  );
}
