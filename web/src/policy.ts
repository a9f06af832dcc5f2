// The policy as GET /v1/policy serves it: the forms are the single source of every field's
// label, help, kind and limits, so a new field in the policy appears in the pages without
// front-end code. Also what a field's plaintext becomes on screen, and the browser's own
// check of a value before it is sent (the broker checks again).
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
  forms: Record<string, { description: string; fields: string[]; submitted_by: string }>;
  categories: Record<string, { roles: string[]; description: string; basis: string }>;
  roles: Record<string, { joins: string }>;
  parties: Record<string, { name: string; role: string }>;
  monitor: { client_groups: string[]; origin_elsewhere: string };
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
