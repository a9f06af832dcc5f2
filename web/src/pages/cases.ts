// The organisation's cases, each with the client's name opened here: one request brings the
// name fields of every case (one access event per case, in one group).
import { call } from "../api.ts";
import { h, show } from "../dom.ts";
import { formatDate } from "../format.ts";
import { t, tOr } from "../i18n.ts";
import { ask } from "../keys.ts";
import { session } from "../session.ts";
import { alert, go } from "./common.ts";

/** The field that names a client in lists. */
export const NAME_FIELD = "full_name";

interface CaseRow {
  id: string;
  state: string;
  updated_at: string;
  created_by: string;
}

interface NameFile {
  case: string;
  id: string;
  field: string;
  age: string;
}

/** The purpose the caller's role states when it opens a case. */
export function purposeOf(role: string): string {
  return ({ coordinator: "assessment", corporation: "matching", municipality: "guidance_decision" } as Record<string, string>)[role] ?? "guidance";
}

/** Opens the name fields of `cases` in the key worker. */
export async function names(role: string): Promise<Map<string, string>> {
  const files = await call<{ names: NameFile[] }>("GET", `/v1/cases/names?purpose=${purposeOf(role)}&field=${NAME_FIELD}`);
  const opened = await ask({ op: "open", files: files.names.map((f) => ({ id: f.id, age: f.age })) });
  const out = new Map<string, string>();
  for (const f of files.names) {
    const bytes = opened.opened?.[f.id];
    if (bytes) out.set(f.case, new TextDecoder().decode(bytes));
  }
  return out;
}

/** What a case in `state` waits for, from the caller's side. */
function waitingFor(role: string, state: string): string {
  return tOr(`waits.${role}.${state}`, "");
}

export async function casesPage(): Promise<void> {
  const me = session.me;
  if (!me) return go("#/login");
  const cases = await call<CaseRow[]>("GET", "/v1/cases");
  if (cases.length === 0) {
    return show(h("h1", { class: "utrecht-heading-1" }, t("cases.title")), h("p", { class: "utrecht-paragraph" }, t("cases.empty")));
  }
  let named = new Map<string, string>();
  let problem: HTMLElement | null = null;
  try {
    named = await names(me.role);
  } catch (e) {
    problem = alert("warning", t("error.generic", { detail: String((e as Error).message) }));
  }
  const rows = cases.map((c) =>
    h(
      "tr",
      { class: "utrecht-table__row" },
      h("td", { class: "utrecht-table__cell" }, h("a", { class: "utrecht-link", href: `#/cases/${c.id}` }, named.get(c.id) ?? t("cases.unknown"))),
      h("td", { class: "utrecht-table__cell" }, tOr(`state.${c.state}`, c.state)),
      h("td", { class: "utrecht-table__cell" }, formatDate(c.updated_at)),
      h("td", { class: "utrecht-table__cell" }, waitingFor(me.role, c.state)),
    ),
  );
  show(
    h("h1", { class: "utrecht-heading-1" }, t("cases.title")),
    problem ?? "",
    h(
      "table",
      { class: "utrecht-table", id: "cases" },
      h(
        "thead",
        { class: "utrecht-table__header" },
        h(
          "tr",
          { class: "utrecht-table__row" },
          ...[t("cases.name"), t("cases.state"), t("cases.changed"), t("cases.waiting")].map((label) =>
            h("th", { class: "utrecht-table__header-cell", scope: "col" }, label),
          ),
        ),
      ),
      h("tbody", { class: "utrecht-table__body" }, ...rows),
    ),
  );
}
