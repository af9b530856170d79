// Budgets: the list with what waits for a later year's budget, and a budget with its lines and
// its spend per period.
import { get, list, id } from "./api.js";
import { chart, palette } from "./charts.js";
import { h, card, kpi, money, moneyNumber, compact, table, link, badge, fields, date } from "./ui.js";

export async function budgetsPage(view) {
  const [budgets, centres, invoices, renewals] = await Promise.all([
    list("/v1/budgets", "budgets", { orderBy: "display_name" }),
    list("/v1/costCenters", "costCenters").catch(() => []),
    list("/v1/costCenters/-/deferredActuals", "deferredActuals", { orderBy: "fiscal_year, booking_date" }).catch(() => []),
    list("/v1/costCenters/-/deferredCommitments", "deferredCommitments", { orderBy: "fiscal_year, create_time" }).catch(() => []),
  ]);
  const centreName = new Map(centres.map((c) => [c.name, c.displayName]));
  const centreOf = (name) => centreName.get(name.split("/").slice(0, 2).join("/")) || name.split("/")[1];
  view.append(h("h1", {}, "Budgets"), table([
    { title: "Budget", cell: (b) => link(`#/budgets/${id(b.name)}`, b.displayName || id(b.name)) },
    { title: "Cost centre", class: "hide-narrow", cell: (b) => centreName.get(b.costCenter) || id(b.costCenter) },
    { title: "Year", cell: (b) => b.fiscalYear },
    { title: "Currency", cell: (b) => b.currencyCode },
    { title: "State", cell: (b) => badge(b.state, b.state === "APPROVED" ? "good" : "") },
  ], budgets));
  // What vendors' invoices and contract renewals hold for a year whose budget cannot take them
  // yet (no budget, not approved, or no line of the contract line's ID): booked or committed
  // when that budget is approved with the line.
  const waiting = [
    ...invoices.map((d) => ({ kind: "Invoice", name: d.name, year: d.fiscalYear, line: d.budgetLineId, amount: d.amount,
      when: date(d.bookingDate), contract: d.contract })),
    ...renewals.map((d) => ({ kind: "Renewal", name: d.name, year: d.fiscalYear, line: d.budgetLineId, amount: d.termValue,
      when: `${date(d.serviceStartDate)} to ${date(d.serviceEndDate)}`, contract: d.sourceReference })),
  ];
  if (waiting.length) view.append(card("Waiting for a later year's budget", table([
    { title: "What", cell: (w) => w.kind },
    { title: "Cost centre", class: "hide-narrow", cell: (w) => centreOf(w.name) },
    { title: "Year", cell: (w) => w.year },
    { title: "Line", class: "hide-narrow", cell: (w) => w.line },
    { title: "Amount", class: "num", cell: (w) => money(w.amount) },
    { title: "Date", class: "hide-narrow", cell: (w) => w.when },
    { title: "Contract", cell: (w) => link(`#/vendors/${w.contract.split("/")[1]}`, id(w.contract)) },
  ], waiting)));
}

export async function budgetPage(view, budgetID) {
  const name = `budgets/${budgetID}`;
  const [b, summary] = await Promise.all([get(`/v1/${name}`), get(`/v1/${name}/summary`)]);
  const t = summary.total || {};
  view.append(h("h1", {}, b.displayName || budgetID, " ", badge(b.state)));
  view.append(h("div", { class: "kpis" },
    kpi("Planned", money(t.planned)), kpi("Actual", money(t.actual)), kpi("Committed", money(t.committed)),
    kpi("Available", money(t.available)), kpi("Forecast", money(t.forecast)), kpi("Burn rate / period", money(t.burnRate))));
  const periods = summary.periods || [];
  const grid = h("div", { class: "grid" });
  view.append(grid);
  grid.append(card("Spend per period",
    chart(`Planned and actual per period in ${summary.currencyCode}`, {
      type: "bar",
      data: {
        labels: periods.map((p) => p.period?.label || `P${p.period?.number}`),
        datasets: [
          { label: "Planned", data: periods.map((p) => moneyNumber(p.planned)), backgroundColor: palette[7] },
          { label: "Actual", data: periods.map((p) => moneyNumber(p.actual)), backgroundColor: palette[0] },
          { label: "Committed", data: periods.map((p) => moneyNumber(p.committed)), backgroundColor: palette[1] },
        ],
      },
      options: { scales: { y: { ticks: { callback: compact } } } },
    })));
  grid.append(card("Budget", fields([
    ["Cost centre", id(b.costCenter)], ["Fiscal year", b.fiscalYear], ["Currency", b.currencyCode],
    ["Owner", b.owner], ["Overspend policy", b.overspendPolicy], ["Revision", b.revision], ["As of", date(summary.asOf)],
  ])));
  view.append(card("Lines", table([
    { title: "Line", cell: (l) => l.displayName || id(l.line) },
    { title: "Category", class: "hide-narrow", cell: (l) => l.category },
    { title: "Type", class: "hide-narrow", cell: (l) => l.expenseType },
    { title: "Planned", class: "num", cell: (l) => money(l.figures?.planned) },
    { title: "Actual", class: "num", cell: (l) => money(l.figures?.actual) },
    { title: "Committed", class: "num hide-narrow", cell: (l) => money(l.figures?.committed) },
    { title: "Available", class: "num", cell: (l) => money(l.figures?.available) },
  ], summary.lines || [])));
}
