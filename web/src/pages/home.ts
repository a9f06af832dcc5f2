// The corporation's part of a case: report a match (the home's municipality and kind, with the
// offer of the policy's offer form, which the broker seals to the care organisation and the
// coordinator), the key handover, the lease converted.
import { call } from "../api.ts";
import { h } from "../dom.ts";
import { t } from "../i18n.ts";
import type { Policy } from "../policy.ts";
import { alert, failed, field, go } from "./common.ts";
import { formFields, problemsOf } from "./register.ts";

function send(status: HTMLElement, path: string, body: unknown, caseId: string): Promise<void> {
  return call("POST", path, body).then(
    () => go(`#/cases/${caseId}`),
    (e) => failed(status, e),
  );
}

/** What the corporation can do in `state`, or null. */
export function homePanel(policy: Policy, caseId: string, state: string, corporation: string): HTMLElement | null {
  const status = h("div", { role: "status", "aria-live": "polite" });
  const section = (title: string, form: HTMLElement) =>
    h("section", { "aria-labelledby": "home-title" }, h("h2", { class: "utrecht-heading-2", id: "home-title" }, title), form, status);
  if (state === "referred") {
    const places = Object.entries(policy.allocation.municipalities).filter(([, m]) => m.corporations.includes(corporation)).map(([id]) => id);
    const where = h("select", { id: "home-municipality", class: "utrecht-select" }, ...places.map((m) => h("option", { value: m }, policy.parties[m]?.name ?? m)));
    const kind = h("select", { id: "home-kind", class: "utrecht-select" }, ...["regular", "youth_room", "youth_studio"].map((k) => h("option", { value: k }, t(`home.${k}` as "home.regular"))));
    const offer: Record<string, unknown> = {};
    const { specs, fields } = formFields(policy, "offer", offer);
    const form = h(
      "form",
      { class: "utrecht-form", id: "match", novalidate: true },
      field("home-municipality", t("home.municipality"), where),
      field("home-kind", t("home.kind"), kind),
      h("fieldset", { class: "utrecht-form-fieldset" }, h("legend", { class: "utrecht-form-fieldset__legend" }, t("home.offer")), h("p", { class: "utrecht-paragraph" }, t("home.offer.note")), ...fields),
      h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("home.match")),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const problems = problemsOf(specs, offer);
      if (problems) return void status.replaceChildren(alert("error", problems));
      void send(status, `/v1/cases/${caseId}/match`, { home_municipality: where.value, home_kind: kind.value, offer }, caseId);
    });
    return section(t("home.title.match"), form);
  }
  if (state === "matched") {
    const date = h("input", { id: "key-handover", type: "date", class: "utrecht-textbox", required: true });
    const form = h("form", { class: "utrecht-form", id: "housed" }, field("key-handover", t("home.handover"), date), h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("home.housed")));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!date.value) return void status.replaceChildren(alert("error", t("field.required")));
      void send(status, `/v1/cases/${caseId}/housed`, { key_handover: date.value }, caseId);
    });
    return section(t("home.title.housed"), form);
  }
  if (state === "housed") {
    // The triangle lease converts once its three conditions are met, each with its day (art. 4).
    const day = (id: string) => h("input", { id, type: "date", class: "utrecht-textbox", required: true });
    const on = day("converted-on");
    const conditions: [string, HTMLInputElement, string][] = [
      ["rent_paid_on_time", day("cond-rent"), t("home.lease.rent_paid_on_time")],
      ["living_behaviour", day("cond-behaviour"), t("home.lease.living_behaviour")],
      ["plan_housing_goals", day("cond-goals"), t("home.lease.plan_housing_goals")],
    ];
    const form = h(
      "form",
      { class: "utrecht-form", id: "lease", novalidate: true },
      h("p", { class: "utrecht-paragraph" }, t("home.lease.note")),
      h(
        "fieldset",
        { class: "utrecht-form-fieldset" },
        h("legend", { class: "utrecht-form-fieldset__legend" }, t("home.lease.conditions")),
        ...conditions.map(([, input, label]) => field(input.id, label, input)),
      ),
      field("converted-on", t("home.lease.on"), on),
      h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("home.lease")),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!on.value || conditions.some(([, input]) => !input.value)) return void status.replaceChildren(alert("error", t("home.lease.all")));
      const met = Object.fromEntries(conditions.map(([c, input]) => [c, input.value]));
      void send(status, `/v1/cases/${caseId}/lease-conversion`, { converted_on: on.value, conditions: met }, caseId);
    });
    return section(t("home.title.lease"), form);
  }
  return null;
}
