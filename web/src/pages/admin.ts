// The admin: the policy as a readable table (categories × roles, with the article of the
// agreement that grants each), the enrolled organisations with their keys, and how people,
// keys and rotation are managed. The admin opens no field.
import { call } from "../api.ts";
import { h, show } from "../dom.ts";
import { t, tOr } from "../i18n.ts";
import { session } from "../session.ts";
import { go } from "./common.ts";

interface Organisation {
  id: string;
  name: string;
  role: string;
  recipient: string | null;
  disabled: boolean;
}

export async function adminPage(): Promise<void> {
  const policy = session.policy;
  if (!policy || !session.me) return go("#/login");
  const roles = Object.keys(policy.roles).filter((r) => Object.values(policy.categories).some((c) => c.roles.includes(r)));
  const matrix = h(
    "table",
    { class: "utrecht-table", id: "policy" },
    h("caption", { class: "utrecht-table__caption" }, t("admin.policy.caption", { version: policy.version })),
    h("thead", { class: "utrecht-table__header" }, h("tr", { class: "utrecht-table__row" }, h("th", { class: "utrecht-table__header-cell", scope: "col" }, t("admin.category")), ...roles.map((r) => h("th", { class: "utrecht-table__header-cell", scope: "col" }, tOr(`role.${r}`, r))), h("th", { class: "utrecht-table__header-cell", scope: "col" }, t("admin.basis")))),
    h(
      "tbody",
      { class: "utrecht-table__body" },
      ...Object.entries(policy.categories).map(([id, c]) =>
        h(
          "tr",
          { class: "utrecht-table__row" },
          h("th", { class: "utrecht-table__header-cell", scope: "row" }, tOr(`category.${id}`, id)),
          ...roles.map((r) => h("td", { class: "utrecht-table__cell" }, c.roles.includes(r) ? t("admin.may") : "—")),
          h("td", { class: "utrecht-table__cell" }, c.basis),
        ),
      ),
    ),
  );
  const orgs = await call<Organisation[]>("GET", "/v1/organisations");
  const accounts = await call<{ username: string; org_id: string; role: string; person: boolean; own_key: boolean; has_identity: boolean; disabled: boolean; api_keys: number }[]>("GET", "/v1/users");
  const yes = (b: boolean) => (b ? t("case.yes") : t("case.no"));
  const users = h(
    "table",
    { class: "utrecht-table", id: "users" },
    h("caption", { class: "utrecht-table__caption" }, t("admin.users")),
    h("thead", { class: "utrecht-table__header" }, h("tr", { class: "utrecht-table__row" }, ...[t("login.username"), t("admin.organisation"), t("admin.kind"), t("admin.own_key"), t("admin.identity"), t("admin.api_keys"), t("admin.disabled")].map((x) => h("th", { class: "utrecht-table__header-cell", scope: "col" }, x)))),
    h(
      "tbody",
      { class: "utrecht-table__body" },
      ...accounts.map((a) =>
        h("tr", { class: "utrecht-table__row" }, ...[a.username, policy.parties[a.org_id]?.name ?? a.org_id, a.person ? t("admin.person") : t("admin.system"), a.person ? yes(a.own_key) : "—", a.person ? yes(a.has_identity) : "—", String(a.api_keys), yes(a.disabled)].map((v) => h("td", { class: "utrecht-table__cell" }, v))),
      ),
    ),
  );
  const list = h(
    "table",
    { class: "utrecht-table", id: "organisations" },
    h("caption", { class: "utrecht-table__caption" }, t("admin.organisations")),
    h("thead", { class: "utrecht-table__header" }, h("tr", { class: "utrecht-table__row" }, ...[t("admin.organisation"), t("audit.role"), t("admin.key")].map((x) => h("th", { class: "utrecht-table__header-cell", scope: "col" }, x)))),
    h("tbody", { class: "utrecht-table__body" }, ...orgs.map((o) => h("tr", { class: "utrecht-table__row" }, ...[o.name, tOr(`role.${o.role}`, o.role), o.recipient ? `${o.recipient.slice(0, 16)}…` : t("admin.no_key")].map((v) => h("td", { class: "utrecht-table__cell" }, v))))),
  );
  show(
    h("h1", { class: "utrecht-heading-1" }, t("admin.title")),
    h("h2", { class: "utrecht-heading-2" }, t("admin.policy")),
    h("div", { class: "utrecht-table-container", tabindex: "0", role: "region", "aria-label": t("admin.policy") }, matrix),
    h("h2", { class: "utrecht-heading-2" }, t("admin.organisations")),
    list,
    h("h2", { class: "utrecht-heading-2" }, t("admin.people")),
    h("p", { class: "utrecht-paragraph" }, t("admin.people.text")),
    h("div", { class: "utrecht-table-container", tabindex: "0", role: "region", "aria-label": t("admin.users") }, users),
  );
}
