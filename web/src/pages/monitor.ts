// The monitor (art. 17) as a page: the counts a party reports for a period, and the tables
// and chart of the annual or half-year monitor with the parties' display names (the broker
// suppresses small cells; a hidden count shows as `<5` or `x`).
import { call } from "../api.ts";
import { type Bar, barChart } from "../chart.ts";
import { h, show } from "../dom.ts";
import { t, tOr } from "../i18n.ts";
import { session } from "../session.ts";
import { alert, failed, field, go } from "./common.ts";

type Cell = number | "small" | "hidden";

interface Homes {
  homes: Cell;
  youth_homes?: Cell;
  quota: number;
  quota_met?: boolean;
  waiting: { median_days: number | null };
}

interface Monitor {
  period: string;
  threshold: number;
  view: string;
  registrations: Record<string, { registered: Cell; accepted: Cell; rejected: Cell }>;
  homes_by_corporation: Record<string, Homes>;
  homes_by_municipality: Record<string, Homes>;
  reported: Record<string, { rows: Record<string, Cell>; total: Cell }>;
  recorded?: {
    decisions: Counts;
    decision_days_median: Record<string, number>;
    decision_days_median_by_kind: Record<string, number>;
    signals: Counts;
    lease_conversions: Counts;
    conversion_days_median: number | null;
  };
}

interface Counts {
  rows: Record<string, Cell>;
  total: Cell;
}

function periods(): string[] {
  const year = new Date().getFullYear();
  return [`${year}-H1`, `${year}-H2`, String(year), `${year - 1}-H1`, `${year - 1}-H2`, String(year - 1)];
}

function cell(c: Cell | undefined, threshold: number): string {
  if (c === undefined) return "-";
  if (c === "small") return `<${threshold}`;
  if (c === "hidden") return "x";
  return String(c);
}

function name(id: string): string {
  return session.policy?.parties[id]?.name ?? id;
}

function table(caption: string, headers: string[], rows: string[][]): HTMLElement {
  return h(
    "table",
    { class: "utrecht-table" },
    h("caption", { class: "utrecht-table__caption" }, caption),
    h("thead", { class: "utrecht-table__header" }, h("tr", { class: "utrecht-table__row" }, ...headers.map((x, i) => h("th", { class: `utrecht-table__header-cell${i ? " utrecht-table__header-cell--numeric" : ""}`, scope: "col" }, x)))),
    h("tbody", { class: "utrecht-table__body" }, ...rows.map((r) => h("tr", { class: "utrecht-table__row" }, ...r.map((v, i) => (i ? h("td", { class: "utrecht-table__cell utrecht-table__cell--numeric" }, v) : h("th", { class: "utrecht-table__header-cell", scope: "row" }, v)))))),
  );
}

function homesRows(rows: Record<string, Homes>, threshold: number): string[][] {
  return Object.entries(rows).map(([id, x]) => [
    name(id),
    cell(x.homes, threshold),
    String(x.quota),
    x.quota_met === undefined ? "" : x.quota_met ? t("monitor.met") : t("monitor.not_met"),
    x.waiting.median_days === null ? "-" : String(x.waiting.median_days),
  ]);
}

export async function monitorPage(period = periods()[2] ?? ""): Promise<void> {
  const me = session.me;
  if (!me) return go("#/login");
  const choose = h("select", { id: "period", class: "utrecht-select" }, ...periods().map((p) => h("option", { value: p, selected: p === period }, p)));
  choose.addEventListener("change", () => void monitorPage(choose.value));
  const m = await call<Monitor>("GET", `/v1/monitor?period=${encodeURIComponent(period)}`);
  const th = m.threshold;
  const parts: (Node | string)[] = [
    h("h1", { class: "utrecht-heading-1" }, t("monitor.title")),
    field("period", t("monitor.period"), choose),
    h("p", { class: "utrecht-paragraph" }, t("monitor.note", { threshold: th })),
  ];
  if (Object.keys(m.registrations).length) {
    parts.push(table(t("monitor.registrations"), ["", t("monitor.registered"), t("monitor.accepted"), t("monitor.rejected")], Object.entries(m.registrations).map(([id, r]) => [name(id), cell(r.registered, th), cell(r.accepted, th), cell(r.rejected, th)])));
  }
  const homesHeaders = ["", t("monitor.homes"), t("monitor.quota"), t("monitor.quota_met"), t("monitor.median")];
  if (Object.keys(m.homes_by_corporation).length) parts.push(table(t("monitor.by_corporation"), homesHeaders, homesRows(m.homes_by_corporation, th)));
  if (Object.keys(m.homes_by_municipality).length) parts.push(table(t("monitor.by_municipality"), homesHeaders, homesRows(m.homes_by_municipality, th)));
  for (const [indicator, counts] of Object.entries(m.reported)) {
    parts.push(table(tOr(`indicator.${indicator}`, indicator), ["", t("monitor.count")], Object.entries(counts.rows).map(([id, c]) => [name(id), cell(c, th)])));
  }
  // What the broker recorded itself: decisions on applications, signals, lease conversions.
  const r = m.recorded;
  if (r) {
    const all = m.view === "all";
    const withTotal = (c: Counts, more: (id: string) => string[] = () => []) => [
      ...Object.entries(c.rows).map(([id, v]) => [name(id), cell(v, th), ...more(id)]),
      ...(all ? [[t("monitor.total"), cell(c.total, th), ...more("")]] : []),
    ];
    const median = (id: string) => [r.decision_days_median[id] === undefined ? "-" : String(r.decision_days_median[id])];
    parts.push(table(t("monitor.decisions"), ["", t("monitor.count"), t("monitor.decision_days")], withTotal(r.decisions, median)));
    const kinds = Object.entries(r.decision_days_median_by_kind);
    if (kinds.length) parts.push(table(t("monitor.decision_days_by_kind"), ["", t("monitor.decision_days")], kinds.map(([k, d]) => [tOr(`apply.kind.${k}`, k), String(d)])));
    parts.push(table(t("monitor.signals"), ["", t("monitor.count")], withTotal(r.signals)));
    parts.push(table(t("monitor.conversions"), ["", t("monitor.count")], withTotal(r.lease_conversions)));
    if (r.conversion_days_median !== null) parts.push(h("p", { class: "utrecht-paragraph" }, t("monitor.conversion_days", { days: String(r.conversion_days_median) })));
  }
  const bars = (rows: Record<string, Homes>): Bar[] =>
    Object.entries(rows).map(([id, x]) => ({
      label: name(id),
      value: typeof x.homes === "number" ? x.homes : null,
      text: cell(x.homes, th) + (x.quota_met === undefined ? "" : x.quota_met ? " ✓" : " ✗"),
      marker: x.quota,
    }));
  const charts = h("div", { class: "sluis-charts" });
  if (Object.keys(m.homes_by_corporation).length) charts.append(barChart(t("monitor.by_corporation"), t("monitor.corporation"), t("monitor.homes"), bars(m.homes_by_corporation), t("monitor.quota")));
  if (Object.keys(m.homes_by_municipality).length) charts.append(barChart(t("monitor.by_municipality"), t("monitor.municipality"), t("monitor.homes"), bars(m.homes_by_municipality), t("monitor.quota")));
  const print = h("button", { type: "button", class: "utrecht-button sluis-no-print" }, t("monitor.print"));
  print.addEventListener("click", () => window.print());
  show(...parts.slice(0, 3), charts, ...parts.slice(3), print);
}

export async function countsPage(message?: string): Promise<void> {
  const me = session.me;
  const policy = session.policy;
  if (!me || !policy) return go("#/login");
  const indicators = policy.monitor.indicators[me.role] ?? [];
  const choose = h("select", { id: "count-period", class: "utrecht-select" }, ...periods().map((p) => h("option", { value: p }, p)));
  const inputs = indicators.map((id) => h("input", { id: `count-${id}`, type: "number", min: "0", step: "1", inputmode: "numeric", class: "utrecht-textbox utrecht-textbox--numeric", "data-indicator": id }));
  const status = h("div", { role: "status", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "utrecht-form", id: "counts", novalidate: true },
    field("count-period", t("monitor.period"), choose),
    ...inputs.map((input, i) => field(input.id, tOr(`indicator.${indicators[i]}`, indicators[i] ?? ""), input)),
    h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("counts.send")),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const counts = Object.fromEntries(inputs.filter((i) => i.value !== "").map((i) => [i.dataset.indicator, Number(i.value)]));
    try {
      await call("POST", "/v1/monitor/reports", { period: choose.value, counts });
      await countsPage(t("counts.saved"));
    } catch (e) {
      failed(status, e);
    }
  });
  show(h("h1", { class: "utrecht-heading-1" }, t("counts.title")), message ? alert("ok", message) : "", h("p", { class: "utrecht-paragraph" }, t("counts.intro")), form);
}
