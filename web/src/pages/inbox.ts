// The inbox: what happened on the organisation's cases (referred, changed, a new state, a
// consent to renew), each with the client's name opened here; for the coordinator also the
// overdue evaluations and the queue of referred cases (art. 8.4), which can be rearranged.
import { call } from "../api.ts";
import { h, show } from "../dom.ts";
import { formatDate } from "../format.ts";
import { t, tOr } from "../i18n.ts";
import { session } from "../session.ts";
import { alert, go } from "./common.ts";
import { names } from "./cases.ts";

interface Notification {
  id?: string;
  read: boolean;
  case: string;
  kind: string;
  detail: string;
  at: string;
}

/// Read, new, or (a deadline the calendar keeps in the inbox, without an id) pending.
function status(n: Notification): HTMLElement {
  if (!n.id) return h("strong", {}, t("inbox.pending"));
  return n.read ? h("span", {}, t("inbox.read")) : h("strong", {}, t("inbox.unread"));
}

interface CaseRow {
  id: string;
  state: string;
  queue_position: number | null;
  referred_at: string | null;
}

function caseLink(named: Map<string, string>, id: string): HTMLElement {
  return h("a", { class: "utrecht-link", href: `#/cases/${id}` }, named.get(id) ?? t("cases.unknown"));
}

function table(headers: string[], rows: (Node | string)[][], id: string): HTMLElement {
  return h(
    "table",
    { class: "utrecht-table", id },
    h("thead", { class: "utrecht-table__header" }, h("tr", { class: "utrecht-table__row" }, ...headers.map((x) => h("th", { class: "utrecht-table__header-cell", scope: "col" }, x)))),
    h("tbody", { class: "utrecht-table__body" }, ...rows.map((r) => h("tr", { class: "utrecht-table__row" }, ...r.map((c) => h("td", { class: "utrecht-table__cell" }, c))))),
  );
}

export async function inboxPage(message?: string): Promise<void> {
  const me = session.me;
  if (!me) return go("#/login");
  const [inbox, named] = await Promise.all([call<Notification[]>("GET", "/v1/inbox"), names(me.role).catch(() => new Map<string, string>())]);
  const parts: (Node | string)[] = [h("h1", { class: "utrecht-heading-1" }, t("inbox.title"))];
  if (message) parts.push(alert("ok", message));
  parts.push(
    inbox.length
      ? table(
          [t("cases.name"), t("inbox.what"), t("inbox.when"), t("inbox.status")],
          inbox.map((n) => [caseLink(named, n.case), tOr(`notice.${n.kind}`, n.kind), formatDate(n.at), status(n)]),
          "inbox",
        )
      : h("p", { class: "utrecht-paragraph" }, t("inbox.empty")),
  );
  if (inbox.some((n) => n.id && !n.read)) {
    const markAll = h("button", { type: "button", class: "utrecht-button utrecht-button--secondary-action", id: "mark-all-read" }, t("inbox.mark_all"));
    markAll.addEventListener("click", () => {
      void call("POST", "/v1/inbox/read", { all: true }).then(() => inboxPage(t("inbox.marked")));
    });
    parts.push(h("p", { class: "utrecht-paragraph" }, markAll));
  }
  if (me.role === "coordinator") {
    const overdue = await call<{ case: string; period: number; due_on: string }[]>("GET", "/v1/evaluations/overdue");
    parts.push(
      h("h2", { class: "utrecht-heading-2" }, t("inbox.overdue")),
      overdue.length
        ? table([t("cases.name"), t("inbox.period"), t("inbox.due")], overdue.map((o) => [caseLink(named, o.case), String(o.period), formatDate(o.due_on)]), "overdue")
        : h("p", { class: "utrecht-paragraph" }, t("inbox.none_overdue")),
    );
  }
  show(...parts);
}

export async function queuePage(message?: string): Promise<void> {
  const me = session.me;
  if (!me || me.role !== "coordinator") return go("#/cases");
  const [cases, named] = await Promise.all([call<CaseRow[]>("GET", "/v1/cases"), names(me.role).catch(() => new Map<string, string>())]);
  const queue = cases
    .filter((c) => c.state === "referred")
    .sort((a, b) => (a.queue_position ?? Infinity) - (b.queue_position ?? Infinity) || (a.referred_at ?? "").localeCompare(b.referred_at ?? ""));
  const order = queue.map((c) => c.id);
  const move = async (i: number, by: number) => {
    const j = i + by;
    if (j < 0 || j >= order.length) return;
    [order[i], order[j]] = [order[j] as string, order[i] as string];
    await call("PUT", "/v1/referrals/queue", { order });
    await queuePage(t("queue.saved"));
    (document.querySelector(`[data-move='${order[j]}:${by}']`) as HTMLElement | null)?.focus();
  };
  const rows = queue.map((c, i) => {
    const up = h("button", { type: "button", class: "utrecht-button", "data-move": `${c.id}:-1`, disabled: i === 0, "aria-label": `${t("queue.up")}: ${named.get(c.id) ?? ""}` }, t("queue.up"));
    const down = h("button", { type: "button", class: "utrecht-button", "data-move": `${c.id}:1`, disabled: i === queue.length - 1, "aria-label": `${t("queue.down")}: ${named.get(c.id) ?? ""}` }, t("queue.down"));
    up.addEventListener("click", () => void move(i, -1));
    down.addEventListener("click", () => void move(i, 1));
    return [String(i + 1), caseLink(named, c.id), c.referred_at ? formatDate(c.referred_at) : "", h("div", { class: "utrecht-button-group" }, up, down)];
  });
  show(
    h("h1", { class: "utrecht-heading-1" }, t("queue.title")),
    message ? alert("ok", message) : "",
    h("p", { class: "utrecht-paragraph" }, t("queue.intro")),
    queue.length ? table(["#", t("cases.name"), t("queue.referred"), ""], rows, "queue") : h("p", { class: "utrecht-paragraph" }, t("queue.empty")),
  );
}
