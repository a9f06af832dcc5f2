// Ending a case (art. 9.11, 10), by the coordinator or the corporation that matched it, with
// its reason from the closed list; replacement housing instead returns the case to the
// coordinator for a new referral.
import { call } from "../api.ts";
import { h } from "../dom.ts";
import { t } from "../i18n.ts";
import { failed, field, go } from "./common.ts";

const REASONS = ["lease_ended", "home_swap", "replacement_housing", "moved_on", "other"] as const;

export function endPanel(caseId: string): HTMLElement {
  const reason = h("select", { id: "end-reason", class: "utrecht-select" }, ...REASONS.map((r) => h("option", { value: r }, t(`end.reason.${r}`))));
  const status = h("div", { role: "status", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "utrecht-form", id: "end", novalidate: true },
    h("p", { class: "utrecht-paragraph" }, t("end.note")),
    field("end-reason", t("end.reason"), reason),
    h("button", { type: "submit", class: "utrecht-button utrecht-button--secondary-action" }, t("end.send")),
    status,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    call("POST", `/v1/cases/${caseId}/end`, { reason: reason.value }).then(
      () => go(`#/cases/${caseId}`),
      (err: unknown) => failed(status, err),
    );
  });
  return h("section", { "aria-labelledby": "end-title" }, h("h2", { class: "utrecht-heading-2", id: "end-title" }, t("end.title")), form);
}
