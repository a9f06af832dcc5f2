// Sluis in the browser: the shell (skip link, header, navigation, main), the routes, and the
// rules that hold on every page: the identity lives in the key worker only and is forgotten on
// logout, with the tab and after 15 minutes without use.
import { call } from "./api.ts";
import { h } from "./dom.ts";
import { language, setLanguage, t } from "./i18n.ts";
import { touch, whenForgotten } from "./keys.ts";
import type { Policy } from "./policy.ts";
import { adminPage } from "./pages/admin.ts";
import { auditPage, reportPage } from "./pages/audit.ts";
import { casePage } from "./pages/case.ts";
import { casesPage } from "./pages/cases.ts";
import { go, problemAlert } from "./pages/common.ts";
import { loginPage, passwordPage, waitPage } from "./pages/login.ts";
import { peoplePage } from "./pages/people.ts";
import { inboxPage, queuePage } from "./pages/inbox.ts";
import { countsPage, monitorPage } from "./pages/monitor.ts";
import { registerPage } from "./pages/register.ts";
import { logOut, session } from "./session.ts";

/** Roles that open no field (the privacy officer, the admin) need no key in the page. */
export function keyless(role: string | undefined): boolean {
  return role === "privacy_officer" || role === "admin";
}

function nav(): HTMLElement {
  const me = session.me;
  const items: [string, string][] = me && session.unlocked && !keyless(me.role) ? [["#/cases", t("nav.cases")], ["#/inbox", t("nav.inbox")]] : [];
  if (me && me.role === "privacy_officer") items.push(["#/audit", t("nav.audit")]);
  if (me && me.role === "admin") items.push(["#/admin", t("nav.admin")]);
  if (me && session.unlocked && me.role === "care") items.push(["#/cases/new", t("nav.new")]);
  if (me && session.unlocked && me.role === "coordinator") items.push(["#/queue", t("nav.queue")]);
  if (me && session.unlocked) items.push(["#/monitor", t("nav.monitor")]);
  if (me && session.unlocked && session.policy?.monitor.indicators[me.role]) items.push(["#/counts", t("nav.counts")]);
  if (me && session.unlocked && !keyless(me.role)) items.push(["#/people", t("nav.people")]);
  const links = items.map(([href, label]) =>
    h("li", { class: "utrecht-nav-list__item" }, h("a", { class: "utrecht-link utrecht-nav-list__link", href, "aria-current": location.hash === href ? "page" : undefined }, label)),
  );
  const logout = me ? h("button", { type: "button", class: "utrecht-button", id: "logout" }, t("nav.logout")) : null;
  logout?.addEventListener("click", () => {
    logOut();
    go("#/login");
  });
  const lang = h("button", { type: "button", class: "utrecht-button", lang: language() === "nl" ? "en" : "nl" }, t("nav.language"));
  lang.addEventListener("click", () => {
    setLanguage(language() === "nl" ? "en" : "nl");
    void route();
  });
  return h(
    "nav",
    { class: "utrecht-nav-bar", "aria-label": t("nav.label") },
    h("ul", { class: "utrecht-nav-list" }, ...links),
    h("div", { class: "sluis-nav-actions" }, me ? h("span", { class: "sluis-who" }, `${me.username} · ${me.organisation_name}`) : null, lang, logout),
  );
}

function shell(): void {
  const header = h(
    "header",
    { class: "utrecht-page-header" },
    h("a", { class: "utrecht-skip-link utrecht-skip-link--visible-on-focus", href: "#main", id: "skip" }, t("skip")),
    h("p", { class: "sluis-brand" }, h("span", { class: "sluis-name" }, t("app.name")), " ", h("span", { class: "sluis-tagline" }, t("app.tagline"))),
    nav(),
  );
  const main = h("main", { id: "main", class: "utrecht-page-content", tabindex: "-1" });
  document.body.replaceChildren(h("div", { class: "utrecht-page" }, header, main));
  // The routes use the hash, so the skip link moves focus itself.
  document.getElementById("skip")?.addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
}

/** Navigations started, and the newest one that finished drawing. */
let started = 0;
let finished = 0;

async function route(): Promise<void> {
  const mine = ++started;
  try {
    await draw();
  } finally {
    if (mine === started) finished = mine;
    // A page that was still loading drew itself over the newer one that had already finished:
    // draw the newer one again.
    else if (finished === started) void route();
  }
}

async function draw(): Promise<void> {
  shell();
  const hash = location.hash || "#/login";
  const me = session.me;
  try {
    if (!me || hash === "#/login") return loginPage();
    if (hash === "#/password") return passwordPage();
    if (keyless(me.role)) session.unlocked = true;
    if (!session.unlocked) return waitPage();
    if (me.role === "privacy_officer") {
      const client = /^#\/audit\/client\/(p-[0-9a-f]+)$/.exec(hash);
      if (client?.[1]) return await reportPage(client[1]);
      if (hash !== "#/monitor") return await auditPage();
    }
    if (me.role === "admin" && hash !== "#/monitor") return await adminPage();
    if (hash === "#/cases/new") return registerPage();
    if (hash === "#/people") return await peoplePage();
    if (hash === "#/inbox") return await inboxPage();
    if (hash === "#/queue") return await queuePage();
    if (hash === "#/monitor") return await monitorPage();
    if (hash === "#/counts") return await countsPage();
    const one = /^#\/cases\/([0-9a-f-]{36})$/.exec(hash);
    if (one?.[1]) return await casePage(one[1]);
    return await casesPage();
  } catch (e) {
    document.getElementById("main")?.replaceChildren(problemAlert(e));
  }
}

async function boot(): Promise<void> {
  session.policy = await call<Policy>("GET", "/v1/policy");
  whenForgotten(() => {
    logOut();
    loginPage(t("idle.locked"));
  });
  for (const kind of ["keydown", "pointerdown"]) document.addEventListener(kind, touch, { passive: true });
  window.addEventListener("hashchange", () => void route());
  window.addEventListener("pagehide", () => logOut());
  await route();
}

void boot();
