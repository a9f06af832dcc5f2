// Giving a colleague the organisation's identity: sealed here, in the key worker, to the
// colleague's own recipient; the broker stores what it cannot open.
import { call } from "../api.ts";
import { h, show } from "../dom.ts";
import { t } from "../i18n.ts";
import { ask } from "../keys.ts";
import { alert, go } from "./common.ts";

interface Member {
  id: string;
  username: string;
  recipient: string | null;
  has_identity: boolean;
}

export async function peoplePage(message?: string): Promise<void> {
  const members = await call<Member[]>("GET", "/v1/me/members");
  const rows = members.map((m) => {
    const state = m.has_identity ? t("people.holds") : m.recipient ? t("people.waits") : t("people.nokey");
    let action: HTMLElement | string = "";
    if (m.recipient && !m.has_identity) {
      action = h("button", { type: "button", class: "utrecht-button", "data-user": m.username }, `${t("people.give")}: ${m.username}`);
      action.addEventListener("click", async () => {
        const wrapped = await ask({ op: "wrapFor", recipient: m.recipient ?? "" });
        if (!wrapped.ok) return go("#/login");
        await call("PUT", `/v1/members/${m.id}/identity`, { wrapped_identity: wrapped.wrapped });
        await peoplePage(t("people.given", { name: m.username }));
      });
    }
    return h("tr", { class: "utrecht-table__row" }, h("td", { class: "utrecht-table__cell" }, m.username), h("td", { class: "utrecht-table__cell" }, state), h("td", { class: "utrecht-table__cell" }, action));
  });
  show(
    h("h1", { class: "utrecht-heading-1" }, t("people.title")),
    message ? alert("ok", message) : "",
    h("p", { class: "utrecht-paragraph" }, t("people.intro")),
    h("table", { class: "utrecht-table" }, h("tbody", { class: "utrecht-table__body" }, ...rows)),
  );
}
