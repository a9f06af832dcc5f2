// The policy as GET /v1/policy serves it: the forms are the single source of every field's
// label, help, kind and limits, so a new field in the policy appears in the pages without
// front-end code. Also what a field's plaintext becomes on screen, and the browser's own
// check of a value before it is sent (the broker checks again).
import { base64 } from "@scure/base";
import { tOr, t } from "./i18n.ts";

export interface FieldSpec {
  id: string;
  form: string;
  category: string;
  kind: string;
  label: string;
  help?: string;
  required: boolean;
  max_len?: number;
  min?: number;
  max?: number;
  max_items?: number;
  max_bytes?: number;
  options?: string[];
  criteria?: { id: string; label: string; article: string }[];
}

export interface Policy {
  version: string;
  fields: Record<string, FieldSpec>;
  forms: Record<string, { description: string; fields: string[]; submitted_by: string; rules?: FormRule[] }>;
  allocation: { municipalities: Record<string, { quota: number; corporations: string[] }> };
  changes: { categories: string[] };
  categories: Record<string, { roles: string[]; description: string; basis: string }>;
  roles: Record<string, { joins: string }>;
  parties: Record<string, { name: string; role: string }>;
  monitor: { client_groups: string[]; origin_elsewhere: string; indicators: Record<string, string[]>; full_view: string[] };
  until_application?: Record<string, { categories: string[]; basis: string }>;
  applications?: Record<string, { description: string; days: number; basis: string }>;
}

/** Whether a party of `role` receives `category` at referral: the policy grants it, and it is not
 * held back until an application to it (policy `[until_application]`, as `Policy::may_receive`). */
export function atReferral(policy: Policy, role: string, category: string): boolean {
  const limit = policy.until_application?.[role];
  return (policy.categories[category]?.roles.includes(role) ?? false) && (!limit || limit.categories.includes(category));
}

/** Who sees a category: the roles that join at submission, and those that join by referral. */
export function visibleTo(policy: Policy, category: string): { now: string[]; later: string[] } {
  const roles = policy.categories[category]?.roles ?? [];
  const named = (r: string) => tOr(`role.${r}`, r);
  return {
    now: roles.filter((r) => policy.roles[r]?.joins === "submission").map(named),
    later: roles.filter((r) => policy.roles[r]?.joins === "referral").map(named),
  };
}

/** The fields of a form grouped by category, in the form's order. */
export function byCategory(policy: Policy, form: string): [string, FieldSpec[]][] {
  const groups = new Map<string, FieldSpec[]>();
  for (const id of policy.forms[form]?.fields ?? []) {
    const spec = policy.fields[id];
    if (!spec) continue;
    groups.set(spec.category, [...(groups.get(spec.category) ?? []), spec]);
  }
  return [...groups.entries()];
}

/** A field's opened plaintext as a value (as `form::from_plaintext` reads it). */
export function decode(spec: FieldSpec, bytes: Uint8Array): unknown {
  const text = () => new TextDecoder().decode(bytes);
  switch (spec.kind) {
    case "integer":
    case "amount_eur":
      return Number.parseInt(text(), 10);
    case "boolean":
      return text() === "true";
    case "list":
    case "checklist":
      return JSON.parse(text());
    case "document":
      return bytes;
    default:
      return text();
  }
}

/** Whether a BSN passes the eleven-test. */
export function validBsn(s: string): boolean {
  if (!/^\d{9}$/.test(s)) return false;
  const d = [...s].map(Number);
  const sum = d.slice(0, 8).reduce((acc, n, i) => acc + n * (9 - i), 0) - (d[8] ?? 0);
  return sum % 11 === 0;
}

/** The browser's check of one value; a message, or null when it is fine. */
export function check(spec: FieldSpec, value: unknown): string | null {
  const empty = value === undefined || value === "" || (Array.isArray(value) && value.length === 0);
  if (empty) return spec.required ? t("field.required") : null;
  switch (spec.kind) {
    case "text":
      return String(value).length > (spec.max_len ?? Infinity) ? t("field.too_long", { max: spec.max_len ?? 0 }) : null;
    case "integer":
    case "amount_eur": {
      const n = Number(value);
      return Number.isInteger(n) && n >= (spec.min ?? -Infinity) && n <= (spec.max ?? Infinity)
        ? null
        : t("field.range", { min: spec.min ?? 0, max: spec.max ?? 0 });
    }
    case "date":
      return /^\d{4}-\d{2}-\d{2}$/.test(String(value)) ? null : t("field.date");
    case "bsn":
      return validBsn(String(value)) ? null : t("field.bsn");
    case "email":
      return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(String(value)) ? null : t("field.email");
    case "phone": {
      const s = String(value);
      const digits = s.replace(/\D/g, "").length;
      return /^[\d +\-()]+$/.test(s) && digits >= 8 && digits <= 15 ? null : t("field.phone");
    }
    case "document":
      return value instanceof Uint8Array && value.length > (spec.max_bytes ?? Infinity)
        ? t("field.file_too_big", { max: Math.floor((spec.max_bytes ?? 0) / 1048576) })
        : null;
    default:
      return null;
  }
}

/** One test of a form rule on one field (`policy::FieldTest`). */
export interface FieldTest {
  field: string;
  present?: boolean;
  equals?: unknown;
  above?: number;
  age_from?: number;
  age_to?: number;
}

/** A cross-field condition of the agreement on a form (`[[rules]]`). */
export interface FormRule {
  article: string;
  text: string;
  when?: FieldTest;
  then: FieldTest;
}

function age(born: string, today: Date): number {
  const b = new Date(`${born}T00:00:00Z`);
  let years = today.getUTCFullYear() - b.getUTCFullYear();
  const before = today.getUTCMonth() < b.getUTCMonth() || (today.getUTCMonth() === b.getUTCMonth() && today.getUTCDate() < b.getUTCDate());
  if (before) years -= 1;
  return years;
}

/** Whether `test` holds for these values (as `form::holds` decides it). */
export function holds(test: FieldTest, values: Record<string, unknown>, today = new Date()): boolean {
  const value = values[test.field];
  const present = value !== undefined && value !== null && value !== "";
  if (test.present !== undefined) return present === test.present;
  if (!present) return false;
  if (test.equals !== undefined) return value === test.equals;
  if (test.above !== undefined) return Number(value) > test.above;
  if (test.age_from !== undefined || test.age_to !== undefined) {
    const years = age(String(value), today);
    return years >= (test.age_from ?? 0) && years <= (test.age_to ?? 200);
  }
  return true;
}

/** Each rule of a form that applies to these values, and whether it is met. */
export function rulesOn(rules: FormRule[], values: Record<string, unknown>): { rule: FormRule; met: boolean }[] {
  return rules.filter((r) => !r.when || holds(r.when, values)).map((rule) => ({ rule, met: holds(rule.then, values) }));
}

/** A value as the API takes it (a document's bytes as base64). */
export function toJson(value: unknown): unknown {
  return value instanceof Uint8Array ? base64.encode(value) : value;
}
