// The console's shell: sign-in, the router over location.hash, and the pages.
import { credential, signInWithKey, signOut, startOIDC, finishOIDC } from "./auth.js";
import { onUnauthenticated } from "./api.js";
import { destroyAll } from "./charts.js";
import { h, errorText } from "./ui.js";
import { briefingPage } from "./briefing.js";
import { budgetsPage, budgetPage } from "./budgets.js";
import { vendorsPage, vendorPage } from "./vendors.js";
import { risksPage, riskPage } from "./risks.js";
import { incidentsPage, incidentPage } from "./incidents.js";
import { teamsPage, teamPage } from "./teams.js";
import { peoplePage, personPage } from "./people.js";
import { positionsPage, positionPage } from "./positions.js";
import { compliancePage, frameworkPage, controlPage, policyPage, continuityPlanPage } from "./compliance.js";

// routes map a hash path to its page; a capture is the resource id.
const routes = [
  [/^\/?$/, briefingPage, "briefing"],
  [/^\/budgets$/, budgetsPage, "budgets"],
  [/^\/budgets\/([a-z0-9-]+)$/, budgetPage, "budget"],
  [/^\/vendors$/, vendorsPage, "vendors"],
  [/^\/vendors\/([a-z0-9-]+)$/, vendorPage, "vendor"],
  [/^\/risks$/, risksPage, "risks"],
  [/^\/risks\/([a-z0-9-]+)$/, riskPage, "risk"],
  [/^\/incidents$/, incidentsPage, "incidents"],
  [/^\/incidents\/([a-z0-9-]+)$/, incidentPage, "incident"],
  [/^\/teams$/, teamsPage, "teams"],
  [/^\/teams\/([a-z0-9-]+)$/, teamPage, "team"],
  [/^\/people$/, peoplePage, "people"],
  [/^\/people\/([a-z0-9-]+)$/, personPage, "person"],
  [/^\/positions$/, positionsPage, "positions"],
  [/^\/positions\/([a-z0-9-]+)$/, positionPage, "position"],
  [/^\/compliance$/, compliancePage, "compliance"],
  [/^\/frameworks\/([a-z0-9-]+)$/, frameworkPage, "framework"],
  [/^\/controls\/([a-z0-9-]+)$/, controlPage, "control"],
  [/^\/policies\/([a-z0-9-]+)$/, policyPage, "policy"],
  [/^\/continuityPlans\/([a-z0-9-]+)$/, continuityPlanPage, "continuity-plan"],
];

export function registerRoute(pattern, page, name) {
  routes.push([pattern, page, name]);
}

const view = document.getElementById("view");
const nav = document.getElementById("nav");
const signout = document.getElementById("signout");
let config = {};
let navigation = 0;
let notice = ""; // why the last sign-in failed, shown on the form

async function render() {
  const run = ++navigation;
  destroyAll();
  document.body.dataset.page = "";
  view.replaceChildren();
  if (!credential()) {
    nav.hidden = true;
    signout.hidden = true;
    view.append(signInForm());
    document.body.dataset.page = "signin";
    return;
  }
  nav.hidden = false;
  signout.hidden = false;
  const path = location.hash.replace(/^#/, "") || "/";
  for (const a of nav.querySelectorAll("a")) {
    // A section's pages are under its path, and under those its data-also names.
    const targets = [a.getAttribute("href").slice(1), ...(a.dataset.also || "").split(" ").filter(Boolean)];
    const current = targets.some((target) => (target === "/" ? path === "/" : path === target || path.startsWith(target + "/")));
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const route = routes.find(([re]) => re.test(path));
  if (!route) {
    view.append(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back to the briefing")));
    return;
  }
  const [re, page, name] = route;
  const args = path.match(re).slice(1);
  const page$ = h("div", { class: "page" });
  view.append(page$);
  try {
    await page(page$, ...args);
  } catch (err) {
    if (run !== navigation) return;
    page$.append(h("p", { class: "error", role: "alert" }, errorText(err)));
  }
  if (run !== navigation) return;
  document.body.dataset.page = name;
  performance.mark(`quarterdeck:ready:${name}`);
  view.focus({ preventScroll: true });
}

function signInForm() {
  const input = h("input", { id: "apikey", name: "apikey", type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const message = h("p", { class: "error", role: "alert" }, notice);
  notice = "";
  // POST, so that the key never lands in an address should the form be sent without this script.
  const form = h("form", { class: "signin", method: "post", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("label", { for: "apikey" }, "API key"),
    input,
    h("p", { class: "muted" }, "The key is kept for this browser tab's session only."),
    h("button", { type: "submit" }, "Sign in"),
    message);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!input.value.trim()) return;
    signInWithKey(input.value);
    render();
  });
  if (config.oidc) {
    form.append(h("p", { class: "or" }, "or"),
      h("button", {
        type: "button", class: "secondary", id: "oidc",
        onclick: () => startOIDC(config.oidc).catch((err) => { message.textContent = err.message; }),
      }, "Sign in with your organisation"));
  }
  return form;
}

async function main() {
  performance.mark("quarterdeck:start");
  onUnauthenticated(() => {
    signOut();
    if (!document.body.dataset.expired) {
      document.body.dataset.expired = "1";
      queueMicrotask(render);
    }
  });
  signout.addEventListener("click", () => {
    signOut();
    location.hash = "#/";
    render();
  });
  try {
    config = await (await fetch("config.json")).json();
  } catch {
    config = {};
  }
  try {
    await finishOIDC();
  } catch (err) {
    notice = err.message;
  }
  window.addEventListener("hashchange", () => {
    delete document.body.dataset.expired;
    render();
  });
  await render();
}

main();
