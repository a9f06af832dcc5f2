// The coordinator's referral: the municipalities chosen, then who will receive which
// categories; on confirmation the fields are opened here and re-shared (the referral is one
// of the sealing endpoints), each organisation sent what its role may see.
import { call } from "../api.ts";
import { h } from "../dom.ts";
import { t, tOr } from "../i18n.ts";
import { ask } from "../keys.ts";
import { atReferral, decode, type FieldSpec, type Policy, toJson } from "../policy.ts";
import { alert, failed, go } from "./common.ts";

/** The organisations a referral to `municipalities` makes parties (the allocation). */
export function recipients(policy: Policy, municipalities: string[]): string[] {
  const out = new Set<string>();
  for (const m of municipalities) {
    out.add(m);
    for (const c of policy.allocation.municipalities[m]?.corporations ?? []) out.add(c);
  }
  return [...out].sort();
}

/** The coordinator's slice opened for the referral (its own access event, purpose `referral`). */
async function openedForReferral(policy: Policy, caseId: string): Promise<Record<string, unknown>> {
  const slice = await call<{ fields: { id: string; field: string; item?: string; age: string }[] }>("GET", `/v1/cases/${caseId}/slice?purpose=referral`);
  // The case's fields, not its items (messages, reports, applications, signals): those went
  // to the parties their writer chose and are never shared on.
  const fields = slice.fields.filter((f) => !f.item);
  const opened = await ask({ op: "open", files: fields.map((f) => ({ id: f.id, age: f.age })) });
  const values: Record<string, unknown> = {};
  for (const f of fields) {
    const spec = policy.fields[f.field];
    const bytes = opened.opened?.[f.id];
    if (spec && bytes) values[f.field] = decode(spec, bytes);
  }
  return values;
}

export function referPanel(policy: Policy, caseId: string): HTMLElement {
  const status = h("div", { role: "status", "aria-live": "polite" });
  const preview = h("div", { id: "referral-preview" });
  const boxes = Object.keys(policy.allocation.municipalities).sort().map((m) => {
    const box = h("input", { type: "checkbox", id: `mun-${m}`, value: m, class: "utrecht-checkbox" });
    box.addEventListener("change", () => show());
    return h("div", { class: "utrecht-form-field utrecht-form-field--checkbox" }, box, h("label", { class: "utrecht-form-label utrecht-form-label--checkbox", for: `mun-${m}` }, policy.parties[m]?.name ?? m));
  });
  const chosen = () => boxes.map((b) => b.querySelector("input") as HTMLInputElement).filter((b) => b.checked).map((b) => b.value);
  const show = () => {
    const orgs = recipients(policy, chosen());
    preview.replaceChildren(
      ...(orgs.length
        ? [
            h("h3", { class: "utrecht-heading-3" }, t("refer.preview")),
            h(
              "ul",
              { class: "utrecht-unordered-list" },
              ...orgs.map((org) => {
                const role = policy.parties[org]?.role ?? "";
                const cats = Object.keys(policy.categories).filter((c) => atReferral(policy, role, c)).map((id) => tOr(`category.${id}`, id));
                return h("li", { class: "utrecht-unordered-list__item", "data-org": org }, `${policy.parties[org]?.name ?? org}: ${cats.join(", ")}`);
              }),
            ),
          ]
        : []),
    );
  };
  const send = h("button", { type: "button", class: "utrecht-button utrecht-button--primary-action", id: "refer" }, t("refer.send"));
  send.addEventListener("click", async () => {
    const municipalities = chosen();
    if (!municipalities.length) return void status.replaceChildren(alert("error", t("refer.none")));
    const byRole = new Map<string, string[]>();
    for (const org of recipients(policy, municipalities)) {
      const role = policy.parties[org]?.role ?? "";
      byRole.set(role, [...(byRole.get(role) ?? []), org]);
    }
    const values = await openedForReferral(policy, caseId);
    const shares = [...byRole.entries()].flatMap(([role, orgs]) => {
      const fields: Record<string, unknown> = {};
      for (const [id, value] of Object.entries(values)) {
        const spec = policy.fields[id] as FieldSpec | undefined;
        if (spec && atReferral(policy, role, spec.category)) fields[id] = toJson(value);
      }
      return Object.keys(fields).length ? [{ recipients: orgs, fields }] : [];
    });
    try {
      await call("POST", `/v1/cases/${caseId}/referral`, { municipalities, shares });
      go(`#/cases/${caseId}`);
    } catch (e) {
      failed(status, e);
    }
  });
  return h(
    "section",
    { "aria-labelledby": "refer-title" },
    h("h2", { class: "utrecht-heading-2", id: "refer-title" }, t("refer.title")),
    h("fieldset", { class: "utrecht-form-fieldset" }, h("legend", { class: "utrecht-form-fieldset__legend" }, t("refer.municipalities")), ...boxes),
    preview,
    send,
    status,
  );
}
