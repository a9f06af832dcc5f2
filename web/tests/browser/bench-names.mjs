// Benchmark (run by `cargo bench --bench names`): how long the list of a care organisation's
// cases takes to show every client's name, opened in the browser from one request, against
// the same list without names (the baseline, measured in the same run). Median of RUNS runs
// each. Prints one JSON object.
import { chromium } from "playwright-core";

const base = process.env.SLUIS_URL;
const { username, password } = JSON.parse(process.env.SLUIS_PERSON);
const RUNS = 5;
const browser = await chromium.launch({
  executablePath: process.env.SLUIS_CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const page = await browser.newPage();
await page.goto(`${base}/#/login`);
await page.fill("#username", username);
await page.fill("#password", password);
await page.click("form button[type=submit]");
await page.waitForSelector("#cases", { timeout: 120000 });
const rows = await page.locator("#cases tbody tr").count();
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const names = [];
const bare = [];
for (let i = 0; i < RUNS; i++) {
  // The whole list with names, by the page's own route: the cases, then every name in one
  // request, opened in the key worker. The baseline is the list itself without names: the
  // `GET /v1/cases` request of the same navigation (resource timing).
  const [total, list] = await page.evaluate(async () => {
    performance.clearResourceTimings();
    location.hash = "#/inbox";
    await new Promise((r) => setTimeout(r, 50));
    const start = performance.now();
    location.hash = "#/cases";
    for (;;) {
      const cells = document.querySelectorAll("#cases tbody tr td:first-child a");
      if (cells.length && [...cells].every((a) => !a.textContent.startsWith("("))) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    const total = performance.now() - start;
    const list = performance
      .getEntriesByType("resource")
      .filter((e) => new URL(e.name).pathname === "/v1/cases" && e.startTime >= start)
      .map((e) => e.duration)[0];
    return [total, list];
  });
  names.push(total);
  bare.push(list);
}
await browser.close();
console.log(JSON.stringify({ cases: rows, names_ms: median(names), list_ms: median(bare) }));
