// Positions: the requisitions of every team, by state, and a position with its approval, the
// budget line its funds are held on and the person who filled it. A position's budgeted annual
// cost is its budget, not anyone's pay: every reader with talent.read sees it.
import { get, list, id } from "./api.js";
import { chart, palette } from "./charts.js";
import { h, card, kpi, table, link, badge, fields, date, time, money, enumText } from "./ui.js";

export const positionStates = ["DRAFT", "PENDING_APPROVAL", "OPEN", "OFFER", "FILLED", "CANCELLED"];

const stateClass = { OPEN: "warn", OFFER: "warn", FILLED: "good", CANCELLED: "" };
const stateColour = { DRAFT: palette[7], PENDING_APPROVAL: palette[3], OPEN: palette[1], OFFER: palette[0], FILLED: palette[2], CANCELLED: palette[6] };

export function positionBadge(state) {
  return badge(state, stateClass[state] ?? "");
}

// positionColumns are the columns of a table of positions.
export function positionColumns(teamName) {
  return [
    { title: "Position", cell: (p) => link(`#/positions/${id(p.name)}`, p.title) },
    teamName ? { title: "Team", class: "hide-narrow", cell: (p) => link(`#/teams/${id(p.team)}`, teamName.get(p.team) || id(p.team)) } : null,
    { title: "State", cell: (p) => positionBadge(p.state) },
    { title: "Target start", class: "hide-narrow", cell: (p) => date(p.targetStartDate) },
    { title: "Budgeted annual cost", class: "num", cell: (p) => money(p.budgetedAnnualCost) },
    { title: "Reason", class: "hide-narrow", cell: (p) => enumText(p.reason) },
  ].filter(Boolean);
}

export async function positionsPage(view) {
  const [positions, teams] = await Promise.all([
    list("/v1/positions", "positions", {}, 5000),
    list("/v1/teams", "teams", { orderBy: "display_name" }).catch(() => []),
  ]);
  const teamName = new Map(teams.map((t) => [t.name, t.displayName]));
  const count = (s) => positions.filter((p) => p.state === s).length;
  const filled = positions.filter((p) => p.state === "FILLED");
  const days = filled.map((p) => p.timeToFillDays || 0);
  view.append(h("h1", {}, "Positions"), h("div", { class: "kpis" },
    kpi("Open or in offer", count("OPEN") + count("OFFER")), kpi("Awaiting approval", count("PENDING_APPROVAL")),
    kpi("Filled", filled.length),
    kpi("Mean time to fill", days.length ? `${Math.round(days.reduce((a, b) => a + b, 0) / days.length)} days` : "—")));
  if (positions.length) {
    view.append(card("Positions by state", chart("Positions in each state", {
      type: "bar",
      data: {
        labels: positionStates.map(enumText),
        datasets: [{ label: "Positions", data: positionStates.map(count), backgroundColor: positionStates.map((s) => stateColour[s]) }],
      },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    })));
  }
  const state = h("select", { id: "positions-state" }, h("option", { value: "" }, "Every state"),
    positionStates.map((s) => h("option", { value: s }, enumText(s))));
  const body = h("div");
  view.append(card("All positions", h("div", { class: "toolbar" }, h("label", { for: "positions-state" }, "State"), state), body));
  const draw = () => body.replaceChildren(table(positionColumns(teamName), positions.filter((p) => !state.value || p.state === state.value)));
  state.addEventListener("change", draw);
  draw();
}

export async function positionPage(view, positionID) {
  const p = await get(`/v1/positions/${positionID}`);
  const [team, person, replaced] = await Promise.all([
    get(`/v1/${p.team}`).catch(() => null),
    p.person ? get(`/v1/${p.person}`).catch(() => null) : null,
    p.backfillOf ? get(`/v1/${p.backfillOf}`).catch(() => null) : null,
  ]);
  const personLink = (name, found) => (name ? link(`#/people/${id(name)}`, found?.displayName || id(name)) : "—");
  // budgets/{budget}/lines/{line}: the budget's page lists its lines.
  const line = p.budgetLine ? p.budgetLine.split("/") : null;
  view.append(h("h1", {}, p.title, " ", positionBadge(p.state)));
  const grid = h("div", { class: "grid" });
  view.append(grid);
  grid.append(card("Position", fields([
    ["Team", link(`#/teams/${id(p.team)}`, team?.displayName || id(p.team))], ["Level", p.level],
    ["Reason", enumText(p.reason)], p.backfillOf ? ["Replaces", personLink(p.backfillOf, replaced)] : null,
    ["Budgeted annual cost", money(p.budgetedAnnualCost)], ["Target start", date(p.targetStartDate)],
    ["Description", p.description], ["Required skills", (p.requiredSkills || []).map(id).join(", ") || "—"],
  ])));
  grid.append(card("Approval and hiring", fields([
    ["Requested by", p.requester], ["Approved by", p.approver],
    ["Funds held on", line ? link(`#/budgets/${line[1]}`, `${line[1]} · ${line[3]}`) : "—"],
    ["Opened", time(p.openTime)], ["Filled by", personLink(p.person, person)], ["Starts", date(p.startDate)],
    ["Filled", time(p.fillTime)], p.state === "FILLED" ? ["Time to fill", `${p.timeToFillDays || 0} days`] : null,
    p.cancelReason ? ["Cancelled because", p.cancelReason] : null,
  ])));
}
