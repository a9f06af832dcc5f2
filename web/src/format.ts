// Dates and amounts as Dutch readers expect them: 1 december 2026, € 1.250,00.
import { language } from "./i18n.ts";

const locale = () => (language() === "en" ? "en-GB" : "nl-NL");

/** `2026-12-01` (or a full RFC 3339 time) as `1 december 2026`. */
export function formatDate(iso: string): string {
  const date = new Date(iso.length === 10 ? `${iso}T12:00:00Z` : iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(locale(), { day: "numeric", month: "long", year: "numeric", timeZone: "Europe/Amsterdam" }).format(date);
}

/** Whole euros as `€ 1.250,00`. */
export function formatEur(amount: number): string {
  return new Intl.NumberFormat(locale(), { style: "currency", currency: "EUR" }).format(amount);
}
