// Teams: the organisation's tree with each team's people, open positions and skill coverage, and
// a team with its people, positions, headcount plan and the coverage of the skills it requires.
import { get, list, id } from "./api.js";
import { chart, palette } from "./charts.js";
import { h, card, kpi, table, link, fields, badge, money, errorText } from "./ui.js";
import { personColumns } from "./people.js";
import { positionColumns } from "./positions.js";

// coverageNote says why there is no coverage to show.
function coverageNote(err) {
  return h("p", { class: "muted", id: "coverage-note" },
    err.status === 501 ? "Skill coverage: the talent service does not compute coverage yet." : `Skill coverage: ${errorText(err)}`);
}

const recruiting = (p) => p.state === "OPEN" || p.state === "OFFER";

export async function teamsPage(view) {
  const [teams, people, positions, coverage] = await Promise.all([
    list("/v1/teams", "teams", { orderBy: "display_name" }),
    list("/v1/people", "people", {}, 5000).catch(() => []),
    list("/v1/positions", "positions", {}, 5000).catch(() => []),
    get("/v1/teams/-/coverage").catch((err) => err),
  ]);
  const byName = new Map(teams.map((t) => [t.name, t]));
  const headcount = new Map();
  for (const p of people) if (p.state === "ACTIVE") headcount.set(p.team, (headcount.get(p.team) || 0) + 1);
  const openings = new Map();
  for (const p of positions) if (recruiting(p)) openings.set(p.team, (openings.get(p.team) || 0) + 1);
  const skills = coverage instanceof Error ? null : coverage.skills || [];
  const gaps = new Map();
  const keyPersons = new Map();
  for (const s of skills || []) {
    if (s.gap) gaps.set(s.team, (gaps.get(s.team) || 0) + 1);
    if (s.keyPersonRisk) keyPersons.set(s.team, (keyPersons.get(s.team) || 0) + 1);
  }
  view.append(h("h1", {}, "Teams"));
  view.append(h("div", { class: "kpis" },
    kpi("Teams", teams.length), kpi("People", [...headcount.values()].reduce((a, b) => a + b, 0)),
    kpi("Open positions", [...openings.values()].reduce((a, b) => a + b, 0)),
    skills ? kpi("Skill gaps", coverage.gapCount ?? gaps.size) : null,
    skills ? kpi("Key-person risks", coverage.keyPersonCount ?? keyPersons.size) : null));
  const staffed = teams.filter((t) => headcount.get(t.name) || openings.get(t.name));
  if (staffed.length) {
    view.append(card("People and open positions per team", chart("People working in each team, and its open positions", {
      type: "bar",
      data: {
        labels: staffed.map((t) => t.displayName),
        datasets: [
          { label: "People", data: staffed.map((t) => headcount.get(t.name) || 0), backgroundColor: palette[0] },
          { label: "Open positions", data: staffed.map((t) => openings.get(t.name) || 0), backgroundColor: palette[1] },
        ],
      },
      options: { indexAxis: "y", scales: { x: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }, y: { stacked: true, ticks: { autoSkip: false } } } },
    }, staffed.length > 12 ? "long" : true)));
  }
  const list$ = card("All teams");
  view.append(list$);
  if (!skills) list$.append(coverageNote(coverage));
  const count = (m) => (t) => m.get(t.name) || 0;
  list$.append(table([
    { title: "Team", cell: (t) => link(`#/teams/${id(t.name)}`, t.displayName) },
    { title: "Part of", class: "hide-narrow", cell: (t) => (t.parent ? byName.get(t.parent)?.displayName || id(t.parent) : "—") },
    { title: "People", class: "num", cell: count(headcount) },
    { title: "Open positions", class: "num", cell: count(openings) },
    skills ? { title: "Gaps", class: "num", cell: (t) => (gaps.get(t.name) ? badge(String(gaps.get(t.name)), "warn") : 0) } : null,
    skills ? { title: "Key persons", class: "num", cell: (t) => (keyPersons.get(t.name) ? badge(String(keyPersons.get(t.name)), "bad") : 0) } : null,
    { title: "Cost centre", class: "hide-narrow", cell: (t) => id(t.costCenter) || "—" },
  ].filter(Boolean), teams));
}

export async function teamPage(view, teamID) {
  const name = `teams/${teamID}`;
  const [t, children, members, positions, plans] = await Promise.all([
    get(`/v1/${name}`),
    list("/v1/teams", "teams", { filter: `parent = "${name}"` }),
    list("/v1/people", "people", { filter: `team = "${name}"`, orderBy: "display_name" }, 5000).catch(() => []),
    list("/v1/positions", "positions", { filter: `team = "${name}"` }, 5000).catch(() => []),
    list(`/v1/${name}/headcountPlans`, "headcountPlans").catch(() => []),
  ]);
  const [manager, parent] = await Promise.all([
    t.manager ? members.find((p) => p.name === t.manager) || get(`/v1/${t.manager}`).catch(() => null) : null,
    t.parent ? get(`/v1/${t.parent}`).catch(() => null) : null,
  ]);
  const active = members.filter((p) => p.state === "ACTIVE");
  view.append(h("h1", {}, t.displayName));
  view.append(h("div", { class: "kpis" },
    kpi("People", active.length), kpi("Contractors", active.filter((p) => p.employmentType === "CONTRACTOR").length),
    kpi("Open positions", positions.filter(recruiting).length), kpi("Sub-teams", children.length)));
  const grid = h("div", { class: "grid" });
  view.append(grid);
  grid.append(card("Team", fields([
    ["Description", t.description], ["Part of", t.parent ? link(`#/teams/${id(t.parent)}`, parent?.displayName || id(t.parent)) : "—"],
    ["Cost centre", t.costCenter ? id(t.costCenter) : "—"],
    ["Manager", t.manager ? link(`#/people/${id(t.manager)}`, manager?.displayName || id(t.manager)) : "—"],
  ]), children.length ? [h("h3", {}, "Sub-teams"), h("ul", {}, children.map((c) => h("li", {}, link(`#/teams/${id(c.name)}`, c.displayName))))] : null));
  // The latest fiscal year's plan.
  const plan = plans.sort((a, b) => Number(id(b.name)) - Number(id(a.name)))[0];
  grid.append(plan ? planCard(plan) : card("Headcount plan", h("p", { class: "muted" }, "No headcount plan yet.")));
  view.append(await coverageCard(name, members));
  view.append(card("People", table(personColumns(active), active)));
  view.append(card("Positions", table(positionColumns(), positions)));
}

// planCard draws a headcount plan's quarters against their actuals. Its actual cost is pay: it
// is in the answer only for a caller holding talent.compensation, and shown only then.
function planCard(plan) {
  const quarters = plan.quarters || [];
  const fy = id(plan.name);
  const labels = quarters.map((q) => `Q${q.quarter}`);
  const withPay = quarters.some((q) => q.actualCost);
  return card(`Headcount plan FY${fy}`,
    chart(`Planned and actual headcount per quarter of fiscal year ${fy}, with the positions expected by then`, {
      type: "bar",
      data: {
        labels,
        datasets: [
          { label: "Planned", data: quarters.map((q) => q.plannedHeadcount || 0), backgroundColor: palette[7] },
          { label: "Actual", data: quarters.map((q) => q.actualHeadcount || 0), backgroundColor: palette[0] },
          { label: "Open positions", data: quarters.map((q) => q.openPositions || 0), backgroundColor: palette[1] },
        ],
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    }),
    table([
      { title: "Quarter", cell: (q) => `Q${q.quarter}` },
      { title: "Planned", class: "num", cell: (q) => q.plannedHeadcount || 0 },
      { title: "Actual", class: "num", cell: (q) => q.actualHeadcount || 0 },
      { title: "Planned cost", class: "num hide-narrow", cell: (q) => money(q.plannedCost) },
      withPay ? { title: "Actual cost", class: "num pay hide-narrow", cell: (q) => money(q.actualCost) } : null,
    ].filter(Boolean), quarters));
}

// coverageCard shows, per skill the team requires, the people covering it against the number
// required, and the skills only one person covers (key-person risks).
async function coverageCard(name, members) {
  const c = card("Skill coverage");
  let coverage;
  try {
    coverage = await get(`/v1/${name}/coverage`);
  } catch (err) {
    c.append(coverageNote(err));
    return c;
  }
  const skills = coverage.skills || [];
  if (!skills.length) {
    c.append(h("p", { class: "muted", id: "coverage-note" }, "No skill requirement yet."));
    return c;
  }
  const taxonomy = await list("/v1/skills", "skills").catch(() => []);
  const skillName = new Map(taxonomy.map((s) => [s.name, s.displayName]));
  const personName = new Map(members.map((p) => [p.name, p.displayName]));
  const label = (s) => skillName.get(s.skill) || id(s.skill);
  c.append(h("div", { class: "kpis" }, kpi("Required skills", skills.length),
    kpi("Gaps", coverage.gapCount ?? skills.filter((s) => s.gap).length),
    kpi("Key-person risks", coverage.keyPersonCount ?? skills.filter((s) => s.keyPersonRisk).length)));
  c.append(chart("People meeting each required skill, against the number required", {
    type: "bar",
    data: {
      labels: skills.map(label),
      datasets: [
        { label: "Required", data: skills.map((s) => s.requiredPeople || 0), backgroundColor: palette[7] },
        { label: "Covered", data: skills.map((s) => s.coveredPeople || 0), backgroundColor: palette[0] },
      ],
    },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  }));
  c.append(table([
    { title: "Skill", cell: label },
    { title: "Minimum", class: "num hide-narrow", cell: (s) => `${s.minProficiency || "—"} / 5` },
    { title: "Covered", class: "num", cell: (s) => `${s.coveredPeople || 0} of ${s.requiredPeople || 0}` },
    { title: "Flags", cell: (s) => (s.gap || s.keyPersonRisk ? [
      s.gap ? badge(`short by ${s.shortfall || 0}`, "warn") : null, s.gap && s.keyPersonRisk ? " " : null,
      s.keyPersonRisk ? [badge("key person", "bad"), " ", link(`#/people/${id(s.keyPerson)}`, personName.get(s.keyPerson) || id(s.keyPerson))] : null,
    ] : "—") },
  ], skills));
  return c;
}
