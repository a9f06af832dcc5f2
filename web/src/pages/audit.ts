// The privacy officer (functionaris gegevensbescherming): the access log with filters, paging
// and exports; a client found by pseudonym or by the BSN typed in; the client's access report
// (AVG art. 15) with every row checked here against the signed checkpoint; the log's
// verification and its signals.
import { call, callBlob } from "../api.ts";
import { barChart } from "../chart.ts";
import { h, show } from "../dom.ts";
import { formatDate } from "../format.ts";
import { t, tOr } from "../i18n.ts";
import { checkpointOf, leafHash, openNote, parseVkey, verifyInclusion } from "../proof.ts";
import { session } from "../session.ts";
import { alert, field, go, problemAlert } from "./common.ts";

interface Event {
  seq: number;
  time: string;
  action: string;
  outcome: string;
  reason: string | null;
  user: string | null;
  role: string | null;
  org: string | null;
  purpose: string | null;
  case: string | null;
  client: string | null;
  categories: string[];
  consent: string | null;
}

const FILTERS = ["org", "user", "case", "client", "action", "outcome", "from", "to"] as const;

function name(org: string | null): string {
  return org ? (session.policy?.parties[org]?.name ?? org) : "";
}

function query(values: Record<string, string>, extra: Record<string, string>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...values, ...extra })) if (v) q.set(k, v);
  return q.toString();
}

function download(blob: Blob, file: string): void {
  const a = h("a", { href: URL.createObjectURL(blob), download: file });
  document.body.append(a);
  a.click();
  a.remove();
}

export async function auditPage(values: Record<string, string> = {}, after = ""): Promise<void> {
  if (!session.me) return go("#/login");
  const inputs = FILTERS.map((f) => {
    const input = h("input", { id: `filter-${f}`, name: f, class: "utrecht-textbox", type: f === "from" || f === "to" ? "date" : "text" });
    input.value = values[f] ?? "";
    return input;
  });
  const read = () => Object.fromEntries(inputs.map((i) => [i.name, i.value.trim()]));
  const events = await call<Event[]>("GET", `/v1/audit/events?${query(values, { after, limit: "50" })}`);
  const form = h(
    "form",
    { class: "utrecht-form sluis-filters", id: "filters" },
    ...inputs.map((i) => field(i.id, t(`audit.filter.${i.name}` as "audit.filter.org"), i)),
    h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("audit.search")),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void auditPage(read());
  });
  const exportAs = (format: string, file: string) => {
    const b = h("button", { type: "button", class: "utrecht-button" }, t(`audit.export.${format}` as "audit.export.csv"));
    b.addEventListener("click", async () => download(await callBlob(`/v1/audit/events?${query(read(), { format, limit: "1000" })}`), file));
    return b;
  };
  const next = events.length === 50 ? h("button", { type: "button", class: "utrecht-button", id: "next" }, t("audit.next")) : null;
  next?.addEventListener("click", () => void auditPage(values, String(events[events.length - 1]?.seq ?? "")));
  const lookup = h("input", { id: "bsn", class: "utrecht-textbox", inputmode: "numeric", autocomplete: "off", maxlength: "9" });
  const find = h("form", { class: "utrecht-form", id: "find-client" }, field("bsn", t("audit.bsn"), lookup, t("audit.bsn.help")), h("button", { type: "submit", class: "utrecht-button" }, t("audit.find")));
  find.addEventListener("submit", async (e) => {
    e.preventDefault();
    const answer = await call<{ pseudonym: string }>("POST", "/v1/audit/pseudonyms", { identifier: lookup.value.trim() });
    lookup.value = "";
    go(`#/audit/client/${answer.pseudonym}`);
  });
  const rows = events.map((e) =>
    h(
      "tr",
      { class: "utrecht-table__row" },
      ...[String(e.seq), formatDate(e.time) + " " + e.time.slice(11, 16), e.action, e.outcome, name(e.org), e.role ?? "", e.purpose ?? "", e.case?.slice(0, 8) ?? ""].map((v) => h("td", { class: "utrecht-table__cell" }, v)),
      h("td", { class: "utrecht-table__cell" }, e.client ? h("a", { class: "utrecht-link", href: `#/audit/client/${e.client}` }, e.client) : ""),
      h("td", { class: "utrecht-table__cell" }, e.reason ?? ""),
    ),
  );
  const headers = ["#", t("audit.when"), t("audit.action"), t("audit.outcome"), t("audit.filter.org"), t("audit.role"), t("audit.purpose"), t("audit.filter.case"), t("audit.filter.client"), t("audit.reason")];
  show(
    h("h1", { class: "utrecht-heading-1" }, t("audit.title")),
    find,
    form,
    h("div", { class: "utrecht-button-group" }, exportAs("csv", "toegangslog.csv"), exportAs("jsonl", "toegangslog.jsonl")),
    h(
      "div",
      { class: "utrecht-table-container", tabindex: "0", role: "region", "aria-label": t("audit.title") },
      h(
        "table",
        { class: "utrecht-table", id: "events" },
        h("thead", { class: "utrecht-table__header" }, h("tr", { class: "utrecht-table__row" }, ...headers.map((x) => h("th", { class: "utrecht-table__header-cell", scope: "col" }, x)))),
        h("tbody", { class: "utrecht-table__body" }, ...rows),
      ),
    ),
    next ?? "",
    await verification(),
    await signals(),
  );
}

interface Signals {
  accesses_per_day: { key: string; count: number }[];
  denied_per_day: { key: string; count: number }[];
  outside_office_hours: number[];
  many_clients_in_a_day: { user: string; org: string; day: string; clients: number }[];
  after_end_or_withdrawal: number[];
}

/** The signals of the log, as charts drawn here. */
async function signals(): Promise<HTMLElement> {
  const s = await call<Signals>("GET", "/v1/audit/signals");
  const perDay = (rows: { key: string; count: number }[]) => rows.slice(-14).map((r) => ({ label: formatDate(r.key), value: r.count, text: String(r.count) }));
  const busy = s.many_clients_in_a_day.map((b) => ({ label: `${b.user.slice(0, 8)} ${formatDate(b.day)}`, value: b.clients, text: String(b.clients) }));
  return h(
    "section",
    { "aria-labelledby": "signals-title", id: "signals" },
    h("h2", { class: "utrecht-heading-2", id: "signals-title" }, t("signals.title")),
    h("div", { class: "sluis-charts" }, barChart(t("signals.accesses"), t("signals.day"), t("signals.count"), perDay(s.accesses_per_day)), barChart(t("signals.denied"), t("signals.day"), t("signals.count"), perDay(s.denied_per_day))),
    busy.length ? barChart(t("signals.busy"), t("signals.user_day"), t("signals.clients"), busy) : h("p", { class: "utrecht-paragraph" }, t("signals.none_busy")),
    h("p", { class: "utrecht-paragraph" }, t("signals.outside", { count: s.outside_office_hours.length })),
    h("p", { class: "utrecht-paragraph" }, t("signals.after_end", { count: s.after_end_or_withdrawal.length })),
  );
}

/** The whole log's verification and the latest checkpoint, checked here. */
async function verification(): Promise<HTMLElement> {
  const [report, note, vkey] = await Promise.all([
    call<{ ok: boolean; events: number; checkpoints: number; root: string; first_problem: unknown }>("GET", "/v1/audit/verify"),
    fetch("/v1/audit/checkpoint").then((r) => r.text()),
    fetch("/v1/audit/vkey").then((r) => r.text()),
  ]);
  const key = parseVkey(vkey);
  const body = key ? openNote(note, key) : null;
  const cp = body ? checkpointOf(body) : null;
  return h(
    "section",
    { "aria-labelledby": "verify-title" },
    h("h2", { class: "utrecht-heading-2", id: "verify-title" }, t("audit.verify")),
    alert(report.ok ? "ok" : "error", report.ok ? t("audit.verified", { events: report.events, checkpoints: report.checkpoints }) : t("audit.not_verified", { problem: JSON.stringify(report.first_problem) })),
    alert(cp ? "ok" : "error", cp ? t("audit.checkpoint", { size: cp.size }) : t("audit.checkpoint_bad")),
  );
}

interface Report {
  client: string;
  checkpoint: { note: string; size: number };
  events: { event: Event & Record<string, unknown>; proof: string[]; user_name?: string }[];
}

/** The client's access report (AVG art. 15), every row checked here. */
export async function reportPage(pseudonym: string): Promise<void> {
  if (!session.me) return go("#/login");
  let report: Report;
  try {
    report = await call<Report>("GET", `/v1/audit/clients/${encodeURIComponent(pseudonym)}/report`);
  } catch (e) {
    return show(problemAlert(e));
  }
  const vkey = await fetch("/v1/audit/vkey").then((r) => r.text());
  const key = parseVkey(vkey);
  const body = key ? openNote(report.checkpoint.note, key) : null;
  const cp = body ? checkpointOf(body) : null;
  let proven = 0;
  const rows = report.events.map(({ event, proof, user_name }) => {
    const ok = cp !== null && verifyInclusion(leafHash(event), event.seq - 1, cp.size, proof, cp.root);
    if (ok) proven += 1;
    return h(
      "tr",
      { class: "utrecht-table__row", "data-proven": String(ok) },
      ...[
        `${formatDate(event.time)} ${event.time.slice(11, 16)}`,
        `${name(event.org)} (${tOr(`role.${event.role ?? ""}`, event.role ?? "")})`,
        user_name ?? "",
        event.categories.map((c) => tOr(`category.${c}`, c)).join(", "),
        event.purpose ? tOr(`purpose.${event.purpose}`, event.purpose) : "",
        event.consent ?? "",
        `${tOr(`action.${event.action}`, event.action)}${event.outcome === "denied" ? ` (${t("audit.denied")})` : ""}`,
        ok ? t("audit.proven") : t("audit.not_proven"),
      ].map((v) => h("td", { class: "utrecht-table__cell" }, v)),
    );
  });
  const headers = [t("audit.when"), t("report.who"), t("report.user"), t("report.categories"), t("audit.purpose"), t("report.consent"), t("audit.action"), t("report.proof")];
  const print = h("button", { type: "button", class: "utrecht-button sluis-no-print", id: "print" }, t("report.print"));
  print.addEventListener("click", () => window.print());
  show(
    h("h1", { class: "utrecht-heading-1" }, t("report.title")),
    h("p", { class: "utrecht-paragraph" }, t("report.intro", { client: report.client })),
    alert(cp ? "ok" : "error", cp ? t("report.checkpoint", { size: cp.size, proven, total: report.events.length }) : t("audit.checkpoint_bad")),
    h("pre", { class: "sluis-note", "aria-label": t("report.note") }, report.checkpoint.note),
    h(
      "table",
      { class: "utrecht-table", id: "report" },
      h("thead", { class: "utrecht-table__header" }, h("tr", { class: "utrecht-table__row" }, ...headers.map((x) => h("th", { class: "utrecht-table__header-cell", scope: "col" }, x)))),
      h("tbody", { class: "utrecht-table__body" }, ...rows),
    ),
    print,
  );
}
