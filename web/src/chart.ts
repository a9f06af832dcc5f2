// Bar charts drawn here as SVG: a title, axis titles, whole-number ticks, each value written on
// its bar (a hidden count as its `<5` or `x` at the base), an optional marker per bar (a quota),
// and a text alternative for screen readers. Presentation attributes only (no inline style),
// so the pages' Content-Security-Policy holds.

const NS = "http://www.w3.org/2000/svg";

export interface Bar {
  label: string;
  /** The count, or null where it is not shown. */
  value: number | null;
  /** What is written on the bar. */
  text: string;
  /** A marker across the bar (e.g. the quota). */
  marker?: number;
}

function el(name: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Whole-number ticks from 0 to at least `max`, about five of them. */
function ticks(max: number): number[] {
  const step = Math.max(1, Math.ceil(max / 5));
  const out: number[] = [];
  for (let v = 0; v <= Math.max(max, step); v += step) out.push(v);
  return out;
}

let next = 0;

/** A vertical bar chart. */
export function barChart(title: string, xTitle: string, yTitle: string, bars: Bar[], markerLabel?: string): SVGElement {
  const id = `chart-${next++}`;
  const width = Math.max(480, 70 * bars.length + 120);
  const height = 320;
  const left = 70;
  const bottom = 90;
  const top = 40;
  const plotH = height - top - bottom;
  const max = Math.max(1, ...bars.map((b) => Math.max(b.value ?? 0, b.marker ?? 0)));
  const scale = ticks(max);
  const ceiling = scale[scale.length - 1] ?? 1;
  const y = (v: number) => top + plotH - (v / ceiling) * plotH;
  const band = (width - left - 20) / Math.max(1, bars.length);
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-labelledby": `${id}-t ${id}-d`, class: "sluis-svg-chart" }) as SVGSVGElement;
  svg.append(el("title", { id: `${id}-t` }, title));
  svg.append(el("desc", { id: `${id}-d` }, bars.map((b) => `${b.label}: ${b.text}${b.marker !== undefined ? ` (${markerLabel ?? ""} ${b.marker})` : ""}`).join("; ")));
  svg.append(el("text", { x: left, y: 20, "font-size": 15, "font-weight": 700, fill: "#000" }, title));
  for (const v of scale) {
    svg.append(el("line", { x1: left, x2: width - 20, y1: y(v), y2: y(v), stroke: "#ccc" }));
    svg.append(el("text", { x: left - 8, y: y(v) + 4, "text-anchor": "end", "font-size": 12, fill: "#000" }, String(v)));
  }
  svg.append(el("text", { x: 16, y: top + plotH / 2, transform: `rotate(-90 16 ${top + plotH / 2})`, "text-anchor": "middle", "font-size": 12, fill: "#000" }, yTitle));
  svg.append(el("text", { x: left + (width - left - 20) / 2, y: height - 8, "text-anchor": "middle", "font-size": 12, fill: "#000" }, xTitle));
  bars.forEach((b, i) => {
    const x = left + i * band + band * 0.15;
    const w = band * 0.7;
    if (b.value !== null && b.value > 0) svg.append(el("rect", { x, y: y(b.value), width: w, height: y(0) - y(b.value), fill: "#0b4f5c" }));
    const labelY = b.value !== null && b.value > 0 ? y(b.value) - 5 : y(0) - 5;
    svg.append(el("text", { x: x + w / 2, y: labelY, "text-anchor": "middle", "font-size": 12, "font-weight": 700, fill: "#000" }, b.text));
    if (b.marker !== undefined) svg.append(el("line", { x1: x - 4, x2: x + w + 4, y1: y(b.marker), y2: y(b.marker), stroke: "#b00020", "stroke-width": 3 }));
    svg.append(el("text", { x: x + w / 2, y: y(0) + 14, "text-anchor": "end", "font-size": 11, fill: "#000", transform: `rotate(-35 ${x + w / 2} ${y(0) + 14})` }, b.label));
  });
  svg.append(el("line", { x1: left, x2: width - 20, y1: y(0), y2: y(0), stroke: "#000" }));
  if (markerLabel) {
    svg.append(el("line", { x1: width - 170, x2: width - 150, y1: 16, y2: 16, stroke: "#b00020", "stroke-width": 3 }));
    svg.append(el("text", { x: width - 145, y: 20, "font-size": 12, fill: "#000" }, markerLabel));
  }
  return svg;
}
