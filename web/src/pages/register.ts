// A new registration by a care guide: every field of the registration form, grouped by
// category, each group saying who will see it; the browser's checks beside each field; the
// consent declaration and the monitor codes; a summary before sending. The broker seals each
// value per entitled party on arrival (this is one of the sealing endpoints).
import { call, Problem } from "../api.ts";
import { h, show } from "../dom.ts";
import { formatDate, formatEur } from "../format.ts";
import { t, tOr } from "../i18n.ts";
import { byCategory, check, type FieldSpec, type Policy, rulesOn, toJson, visibleTo } from "../policy.ts";
import { session } from "../session.ts";
import { alert, failed, field, go } from "./common.ts";

type Values = Record<string, unknown>;

/** The control for one field, writing what is entered into `values`. */
export function control(spec: FieldSpec, values: Values): HTMLElement {
  const id = `f-${spec.id}`;
  const set = (v: unknown) => {
    if (v === "" || v === undefined) delete values[spec.id];
    else values[spec.id] = v;
  };
  const current = values[spec.id];
  const text = (type: string, extra: Record<string, string> = {}) => {
    const input = h("input", { id, name: spec.id, type, class: "utrecht-textbox", required: spec.required, ...extra });
    if (current !== undefined) input.value = String(current);
    input.addEventListener("input", () => set(type === "number" ? (input.value === "" ? "" : Number(input.value)) : input.value));
    return input;
  };
  switch (spec.kind) {
    case "date":
      return text("date");
    case "integer":
    case "amount_eur":
      return text("number", { inputmode: "numeric", step: "1", min: String(spec.min ?? ""), max: String(spec.max ?? "") });
    case "email":
      return text("email", { autocomplete: "off" });
    case "phone":
      return text("tel", { autocomplete: "off" });
    case "bsn":
      return text("text", { inputmode: "numeric", maxlength: "9", autocomplete: "off" });
    case "boolean": {
      const group = h("div", { role: "radiogroup", id, "aria-required": spec.required ? "true" : undefined });
      for (const [value, label] of [[true, t("case.yes")], [false, t("case.no")]] as const) {
        const radio = h("input", { type: "radio", name: spec.id, id: `${id}-${value}`, class: "utrecht-radio-button", checked: current === value });
        radio.addEventListener("change", () => set(value));
        group.append(h("div", { class: "utrecht-form-field utrecht-form-field--radio" }, radio, h("label", { class: "utrecht-form-label utrecht-form-label--radio", for: `${id}-${value}` }, label)));
      }
      return group;
    }
    case "choice": {
      const select = h("select", { id, name: spec.id, class: "utrecht-select", required: spec.required }, h("option", { value: "" }, t("field.choose")), ...(spec.options ?? []).map((o) => h("option", { value: o, selected: current === o }, tOr(`option.${o}`, o))));
      select.addEventListener("change", () => set(select.value));
      return select;
    }
    case "list": {
      const area = h("textarea", { id, name: spec.id, class: "utrecht-textarea", rows: "3" });
      if (Array.isArray(current)) area.value = current.join("\n");
      area.addEventListener("input", () => set(area.value.split("\n").map((s) => s.trim()).filter(Boolean)));
      return area;
    }
    case "document": {
      const file = h("input", { id, name: spec.id, type: "file", class: "utrecht-textbox", required: spec.required && !(current instanceof Uint8Array) });
      const kept = h("p", { class: "utrecht-form-field-description", "aria-live": "polite" }, current instanceof Uint8Array ? t("field.file_kept", { kb: Math.ceil(current.length / 1024) }) : "");
      file.addEventListener("change", async () => {
        const chosen = file.files?.[0];
        set(chosen ? new Uint8Array(await chosen.arrayBuffer()) : undefined);
        kept.textContent = "";
      });
      return h("div", {}, file, kept);
    }
    default: {
      if ((spec.max_len ?? 0) > 200) {
        const area = h("textarea", { id, name: spec.id, class: "utrecht-textarea", rows: "3", maxlength: String(spec.max_len), required: spec.required });
        if (current !== undefined) area.value = String(current);
        area.addEventListener("input", () => set(area.value));
        return area;
      }
      return text("text", { maxlength: String(spec.max_len ?? "") });
    }
  }
}

/** A field's label, marked when it is optional. */
function labelOf(spec: FieldSpec): string {
  return spec.required ? spec.label : `${spec.label} ${t("field.optional")}`;
}

/** A policy form's fields, each a labelled control writing into `values`. */
export function formFields(policy: Policy, form: string, values: Values): { specs: FieldSpec[]; fields: HTMLElement[] } {
  const specs = (policy.forms[form]?.fields ?? []).map((id) => policy.fields[id]).filter((s): s is FieldSpec => Boolean(s));
  return { specs, fields: specs.map((s) => field(`f-${s.id}`, labelOf(s), control(s, values), s.help)) };
}

/** The browser's check of `values` against `specs`: every problem as one message, or null. */
export function problemsOf(specs: FieldSpec[], values: Values): string | null {
  const problems = specs.map((s) => [s, check(s, values[s.id])] as const).filter(([, p]) => p);
  return problems.length ? problems.map(([s, p]) => `${s.label}: ${p}`).join(" ") : null;
}

/** A value for the summary. */
function summary(spec: FieldSpec, value: unknown): string {
  if (spec.kind === "amount_eur") return formatEur(Number(value));
  if (spec.kind === "date") return formatDate(String(value));
  if (spec.kind === "boolean") return value ? t("case.yes") : t("case.no");
  if (spec.kind === "document") return `${Math.ceil((value as Uint8Array).length / 1024)} kB`;
  if (Array.isArray(value)) return value.join(", ");
  return String(value);
}

/** A field of the page that is not in a form: the consent's dates, the monitor codes. */
function pageField(id: string, kind: string, label: string, options?: string[]): FieldSpec {
  return { id, form: "page", category: "page", kind, label, required: true, options };
}

export function registerPage(values: Values = {}, errors: Record<string, string> = {}): void {
  const policy = session.policy;
  if (!policy || !session.me) return go("#/login");
  const signed = pageField("consent_signed_on", "date", t("register.consent.signed"));
  const until = pageField("consent_valid_until", "date", t("register.consent.until"));
  const scan: FieldSpec = { ...pageField("consent_document", "document", t("register.consent.document")), max_bytes: policy.fields.consent_document?.max_bytes };
  const municipalities = Object.entries(policy.parties).filter(([, p]) => p.role === "municipality");
  const group = pageField("monitor_client_group", "choice", t("register.monitor.group"), policy.monitor.client_groups);
  const origin = pageField("monitor_origin", "choice", t("register.monitor.origin"), [...municipalities.map(([id]) => id), policy.monitor.origin_elsewhere]);
  const fieldset = (legend: string, note: string | null, specs: FieldSpec[]) =>
    h(
      "fieldset",
      { class: "utrecht-form-fieldset" },
      h("legend", { class: "utrecht-form-fieldset__legend" }, legend),
      note ? h("p", { class: "utrecht-form-field-description" }, note) : null,
      ...specs.map((s) => field(`f-${s.id}`, labelOf(s), control(s, values), s.help, errors[s.id])),
    );
  const groups = byCategory(policy, "registration").map(([category, specs]) => {
    const seen = visibleTo(policy, category);
    const note = t("register.visible", { roles: seen.now.join(", ") }) + (seen.later.length ? `; ${t("register.after", { roles: seen.later.join(", ") })}` : "");
    return fieldset(tOr(`category.${category}`, category), note, specs);
  });
  const count = Object.keys(errors).length;
  const form = h(
    "form",
    { class: "utrecht-form", novalidate: true, id: "registration" },
    count ? alert("error", t("register.errors", { count })) : null,
    ...groups,
    fieldset(t("register.consent"), null, [signed, until, scan]),
    fieldset(t("register.monitor"), null, [group, origin]),
    h("button", { type: "submit", class: "utrecht-button utrecht-button--primary-action" }, t("register.summary")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const all = [...byCategory(policy, "registration").flatMap(([, s]) => s), signed, until, scan, group, origin];
    const found: Record<string, string> = {};
    for (const spec of all) {
      const problem = check(spec, values[spec.id]);
      if (problem) found[spec.id] = problem;
    }
    // The agreement's conditions across fields (the form's rules), as the broker applies them.
    for (const { rule, met } of rulesOn(policy.forms.registration?.rules ?? [], values)) {
      if (!met && !found[rule.then.field]) found[rule.then.field] = `art. ${rule.article}: ${rule.text}`;
    }
    if (Object.keys(found).length) return registerPage(values, found);
    summaryPage(values, all);
  });
  show(h("h1", { class: "utrecht-heading-1" }, t("register.title")), form);
}

function summaryPage(values: Values, specs: FieldSpec[]): void {
  const policy = session.policy;
  if (!policy) return;
  const rows = specs
    .filter((s) => values[s.id] !== undefined)
    .map((s) => h("div", { class: "utrecht-data-list__item" }, h("dt", { class: "utrecht-data-list__item-key" }, s.label), h("dd", { class: "utrecht-data-list__item-value" }, summary(s, values[s.id]))));
  const status = h("div", { role: "status", "aria-live": "polite" });
  const back = h("button", { type: "button", class: "utrecht-button" }, t("register.back"));
  back.addEventListener("click", () => registerPage(values));
  const send = h("button", { type: "button", class: "utrecht-button utrecht-button--primary-action" }, t("register.send"));
  send.addEventListener("click", async () => {
    const fields: Values = {};
    for (const id of policy.forms.registration?.fields ?? []) {
      const v = values[id];
      if (v !== undefined) fields[id] = toJson(v);
    }
    const roles = Object.keys(policy.roles).filter((r) => policy.roles[r]?.joins !== "never");
    const categories = Object.keys(policy.categories);
    try {
      const done = await call<{ id: string }>("POST", "/v1/cases", {
        form: "registration",
        fields,
        consent: {
          signed_on: values.consent_signed_on,
          valid_until: values.consent_valid_until,
          roles,
          categories,
          document: toJson(values.consent_document),
        },
        monitor: { client_group: values.monitor_client_group, origin_municipality: values.monitor_origin },
      });
      go(`#/cases/${done.id}`);
    } catch (e) {
      if (e instanceof Problem && e.errors.length) {
        return registerPage(values, Object.fromEntries(e.errors.map((p) => [p.field, p.problem])));
      }
      failed(status, e);
    }
  });
  show(h("h1", { class: "utrecht-heading-1" }, t("register.summary")), h("dl", { class: "utrecht-data-list" }, ...rows), h("div", { class: "utrecht-button-group" }, back, send), status);
}
