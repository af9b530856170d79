// Vendors: the list, and a vendor with its contracts, scorecards, SLA breaches and assessments.
import { get, list, id } from "./api.js";
import { chart, palette } from "./charts.js";
import { h, card, money, table, link, badge, fields, date, time, enumText } from "./ui.js";

// recentBreaches is how many of a vendor's SLA breaches its page shows, the most recent first.
const recentBreaches = 20;

export async function vendorsPage(view) {
  const vendors = await list("/v1/vendors", "vendors", { orderBy: "display_name" });
  view.append(h("h1", {}, "Vendors"), table([
    { title: "Vendor", cell: (v) => link(`#/vendors/${id(v.name)}`, v.displayName) },
    { title: "Category", class: "hide-narrow", cell: (v) => enumText(v.category) },
    { title: "Tier", cell: (v) => v.tier },
    { title: "State", cell: (v) => badge(v.state, v.state === "ACTIVE" ? "good" : "") },
    { title: "Risk", cell: (v) => (v.riskRating ? badge(v.riskRating) : "—") },
  ], vendors));
}

export async function vendorPage(view, vendorID) {
  const name = `vendors/${vendorID}`;
  const [v, contracts, scorecards, breaches, assessments] = await Promise.all([
    get(`/v1/${name}`),
    list(`/v1/${name}/contracts`, "contracts"),
    list(`/v1/${name}/scorecards`, "scorecards").catch(() => []),
    list(`/v1/${name}/slaBreaches`, "slaBreaches", {}, recentBreaches).catch(() => []),
    list(`/v1/${name}/assessments`, "assessments").catch(() => []),
  ]);
  view.append(h("h1", {}, v.displayName, " ", badge(v.state)));
  const grid = h("div", { class: "grid" });
  view.append(grid);
  grid.append(card("Vendor", fields([
    ["Legal name", v.legalName], ["Category", enumText(v.category)], ["Tier", v.tier], ["Data access", enumText(v.dataAccess)],
    ["Country", v.country], ["Owner", v.owner], ["Risk rating", v.riskRating ? badge(v.riskRating) : "—"],
  ])));
  const cards = [...scorecards].sort((a, b) => (a.quarter < b.quarter ? -1 : 1));
  const sc = card("Scorecards");
  grid.append(sc);
  if (cards.length) {
    sc.append(chart("Scorecard score per quarter", {
      type: "line",
      data: { labels: cards.map((s) => s.quarter), datasets: [{ label: "Score", data: cards.map((s) => s.score ?? 0), borderColor: palette[0], backgroundColor: palette[0] }] },
      options: { scales: { y: { min: 0, max: 100 } } },
    }));
    sc.append(table([
      { title: "Quarter", cell: (s) => s.quarter },
      { title: "Score", class: "num", cell: (s) => s.score ?? 0 },
      { title: "Incidents", class: "num", cell: (s) => s.incidentCount ?? 0 },
      { title: "Spend", class: "num", cell: (s) => (s.spend || []).map(money).join(", ") || "—" },
    ], cards));
  } else sc.append(h("p", { class: "muted" }, "No scorecard yet."));
  view.append(card("Contracts", table([
    { title: "Contract", cell: (c) => c.title },
    { title: "State", cell: (c) => badge(c.state) },
    { title: "Ends", cell: (c) => date(c.endDate) },
    { title: "Cancel by", class: "hide-narrow", cell: (c) => date(c.cancelByDate) },
    { title: "Annual value", class: "num", cell: (c) => money(c.annualValue) },
    { title: "Invoiced", class: "num hide-narrow", cell: (c) => money(c.invoicedAmount) },
  ], contracts)));
  view.append(card("SLA breaches", table([
    { title: "Broken", cell: (b) => time(b.breachTime) },
    { title: "What", cell: (b) => enumText(b.kind) },
    { title: "Service level", class: "hide-narrow", cell: (b) => b.serviceLevel },
    { title: "Target", class: "num", cell: (b) => b.target },
    { title: "Measured", class: "num", cell: (b) => b.measured },
    { title: "Incident", cell: (b) => link(`#/incidents/${id(b.incident)}`, id(b.incident)) },
  ], breaches, breaches.length === recentBreaches ? `The ${recentBreaches} most recent.` : undefined)));
  view.append(card("Assessments", table([
    { title: "Assessment", cell: (a) => id(a.name) },
    { title: "State", cell: (a) => badge(a.state) },
    { title: "Score", class: "num", cell: (a) => a.score ?? "—" },
    { title: "Rating", cell: (a) => (a.riskRating ? badge(a.riskRating) : "—") },
  ], assessments)));
}
