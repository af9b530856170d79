// The executive briefing, from GET /v1/briefing: a read model built from the domains' events.
import { get, id } from "./api.js";
import { chart, palette, levelColours } from "./charts.js";
import { hours } from "./incidents.js";
import { h, card, kpi, money, moneyNumber, compact, date, time, table, link, badge, enumText } from "./ui.js";

export async function briefingPage(view) {
  let b;
  try {
    b = await get("/v1/briefing");
    performance.mark("quarterdeck:data:briefing");
  } catch (err) {
    if (err.status !== 404 && err.status !== 501) throw err;
    // A gateway without the briefing service: the domains' pages still work.
    view.append(h("h1", {}, "Executive briefing"),
      h("p", { class: "muted", id: "no-briefing" }, "This platform serves no briefing. See the ",
        link("#/budgets", "budgets"), ", ", link("#/vendors", "vendors"), ", ", link("#/risks", "risks"), " and ",
        link("#/incidents", "incidents"), "."));
    return;
  }
  view.append(h("h1", {}, "Executive briefing", b.asOfDate ? h("span", { class: "muted" }, ` · as of ${date(b.asOfDate)}`) : null));
  view.append(kpis(b));
  const grid = h("div", { class: "grid" });
  view.append(grid);
  budgetCards(grid, b.budget);
  riskCard(grid, b.risks);
  incidentsCard(grid, b.incidents);
  renewalsCard(grid, b.vendors);
  slaCard(grid, b.vendors);
  headcountCard(grid, b.talent, date(b.asOfDate));
  complianceCard(grid, b.compliance);
  continuityCard(grid, b.continuity);
  view.append(freshness(b));
}

function kpis(b) {
  const totals = b.budget?.totals || [];
  return h("div", { class: "kpis" },
    totals.map((t) => kpi(`Actual to date / plan (${t.currencyCode})`, `${compact(moneyNumber(t.actualToDate))} / ${compact(moneyNumber(t.planned))}`)),
    kpi("Cost centres over plan", b.budget?.overPlanCount ?? 0),
    kpi("Risks above appetite", `${b.risks?.aboveAppetiteCount ?? 0} of ${b.risks?.openCount ?? 0} open`),
    kpi("Contracts in notice window", b.vendors?.inNoticeWindowCount ?? (b.vendors?.inNoticeWindow || []).length),
    kpi("Renewals in 90 days", b.vendors?.renewalCount ?? (b.vendors?.renewals || []).length),
    kpi("SLA breaches in 90 days", b.vendors?.slaBreachCount ?? 0),
    b.incidents ? kpi("Open incidents", b.incidents.openCount ?? 0) : null,
    b.compliance?.policyCount ? kpi("Policy acknowledgements overdue", b.compliance.overdueAcknowledgementCount ?? 0) : null,
    b.talent ? kpi("Open positions", b.talent.openPositionCount ?? 0) : null);
}

// The cost centres of one currency at a time: amounts in different currencies are not added.
function budgetCards(grid, budget) {
  const centres = budget?.costCenters || [];
  if (!centres.length) {
    grid.append(card("Burn vs plan by cost centre", h("p", { class: "muted" }, "No approved budget yet.")));
    return;
  }
  const currencies = [...new Set(centres.map((c) => c.planned?.currencyCode).filter(Boolean))];
  currencies.sort((a, b) => centres.filter((c) => c.planned?.currencyCode === b).length - centres.filter((c) => c.planned?.currencyCode === a).length);
  const burn = card("Burn vs plan by cost centre");
  const forecast = card("Run-rate forecast");
  grid.append(burn, forecast);
  const select = h("select", { id: "currency", "aria-label": "Currency" }, currencies.map((c) => h("option", { value: c }, c)));
  const burnBody = h("div");
  const forecastBody = h("div");
  burn.append(h("div", { class: "toolbar" }, h("label", { for: "currency" }, "Currency "), select), burnBody);
  if ((budget.costCenterCount || 0) > centres.length) {
    burn.append(h("p", { class: "muted" }, `The ${centres.length} cost centres furthest over plan, of ${budget.costCenterCount}; every budget is under `, link("#/budgets", "Budgets"), "."));
  }
  forecast.append(forecastBody);
  const draw = () => {
    const cur = select.value;
    const rows = centres.filter((c) => c.planned?.currencyCode === cur)
      .sort((a, b) => moneyNumber(b.planned) - moneyNumber(a.planned));
    burnBody.replaceChildren(chart(`Planned, actual to date and forecast per cost centre in ${cur}`, {
      type: "bar",
      data: {
        labels: rows.map((c) => c.costCenterDisplayName || id(c.costCenter)),
        datasets: [
          { label: "Planned", data: rows.map((c) => moneyNumber(c.planned)), backgroundColor: palette[7] },
          { label: "Actual to date", data: rows.map((c) => moneyNumber(c.actualToDate)), backgroundColor: palette[0] },
          { label: "Forecast", data: rows.map((c) => moneyNumber(c.forecast)), backgroundColor: palette[1] },
        ],
      },
      options: { indexAxis: "y", scales: { x: { ticks: { callback: compact } } } },
    }, true), table([
      { title: "Cost centre", cell: (c) => link(`#/budgets/${id(c.budget)}`, c.costCenterDisplayName || id(c.costCenter)) },
      { title: "Burn", class: "num", cell: (c) => `${((c.burnBasisPoints || 0) / 100).toFixed(1)} %` },
      { title: "Forecast variance", class: "num", cell: (c) => money(c.forecastVariance) },
    ], rows.slice(0, 8), "The eight largest plans"));
    forecastBody.replaceChildren(forecastChart((budget.totals || []).find((t) => t.currencyCode === cur), rows, cur));
  };
  select.addEventListener("change", draw);
  draw();
}

// forecastChart draws the cumulative actuals per period of every cost centre in cur (the
// briefing's totals; the listed cost centres' when the totals carry no periods), and the plan and
// the run-rate forecast to the year's end beside them.
function forecastChart(total, rows, cur) {
  const source = total?.periods?.length ? [total] : rows;
  const periods = Math.max(12, ...source.map((c) => (c.periods || []).length));
  const labels = Array.from({ length: periods }, (_, i) => `P${i + 1}`);
  const cumulative = new Array(periods).fill(0);
  let elapsed = 0;
  for (const c of source) {
    elapsed = Math.max(elapsed, c.elapsedPeriods || 0);
    for (const p of c.periods || []) {
      if (p.period >= 1 && p.period <= periods) cumulative[p.period - 1] += moneyNumber(p.cumulativeActual);
    }
  }
  elapsed = Math.min(elapsed || periods, periods);
  const planned = source.reduce((s, c) => s + moneyNumber(c.planned), 0);
  const forecast = source.reduce((s, c) => s + moneyNumber(c.forecast), 0);
  const last = cumulative[elapsed - 1] || 0;
  return chart(`Cumulative actual, plan and run-rate forecast in ${cur}`, {
    type: "line",
    data: {
      labels,
      datasets: [
        { label: "Actual (cumulative)", data: cumulative.map((v, i) => (i < elapsed ? v : null)), borderColor: palette[0], backgroundColor: palette[0] },
        { label: "Plan", data: labels.map((_, i) => (planned * (i + 1)) / periods), borderColor: palette[7], backgroundColor: palette[7], borderDash: [4, 4] },
        { label: "Forecast", data: labels.map((_, i) => (i < elapsed - 1 ? null : last + ((forecast - last) * (i + 1 - elapsed)) / Math.max(1, periods - elapsed))), borderColor: palette[1], backgroundColor: palette[1], borderDash: [2, 3] },
      ],
    },
    options: { scales: { y: { ticks: { callback: compact } } } },
  });
}

function riskCard(grid, risks) {
  const cells = risks?.heatMap || [];
  const c = card("Risk heat map (residual)");
  grid.append(c);
  if (!cells.length) {
    c.append(h("p", { class: "muted" }, "No scored risk yet."));
    return;
  }
  const max = Math.max(...cells.map((x) => x.count || 0), 1);
  c.append(chart("Residual risks by likelihood and impact; larger circles hold more risks", {
    type: "bubble",
    data: {
      datasets: Object.keys(levelColours).filter((l) => cells.some((x) => x.level === l)).map((l) => ({
        label: enumText(l),
        backgroundColor: levelColours[l],
        data: cells.filter((x) => x.level === l).map((x) => ({ x: x.impact, y: x.likelihood, r: 6 + 18 * Math.sqrt((x.count || 0) / max), count: x.count })),
      })),
    },
    options: {
      scales: {
        x: { min: 0.5, max: (risks.impactSteps || 5) + 0.5, title: { display: true, text: "Impact" }, ticks: { stepSize: 1 } },
        y: { min: 0.5, max: (risks.likelihoodSteps || 5) + 0.5, title: { display: true, text: "Likelihood" }, ticks: { stepSize: 1 } },
      },
      plugins: { tooltip: { callbacks: { label: (ctx) => `${ctx.raw.count} risk(s): likelihood ${ctx.raw.y}, impact ${ctx.raw.x}` } } },
    },
  }));
  c.append(table([
    { title: "Above appetite", cell: (r) => link(`#/risks/${id(r.risk)}`, r.title) },
    { title: "Residual", cell: (r) => badge(r.residual?.level) },
    { title: "Owner", class: "hide-narrow", cell: (r) => r.owner },
  ], (risks.aboveAppetite || []).slice(0, 10)));
}

function renewalsCard(grid, vendors) {
  const c = card("Renewals and notice windows (next 90 days)");
  grid.append(c);
  const seen = new Map();
  for (const x of [...(vendors?.inNoticeWindow || []), ...(vendors?.renewals || [])]) seen.set(x.contract, x);
  const items = [...seen.values()].sort((a, b) => (a.daysToEnd ?? 0) - (b.daysToEnd ?? 0));
  if (!items.length) {
    c.append(h("p", { class: "muted" }, "No contract renews or is in its notice window."));
    return;
  }
  const shown = items.slice(0, 15);
  c.append(chart("Days from today to each contract's cancel-by date and end date", {
    type: "bar",
    data: {
      labels: shown.map((x) => `${x.vendorDisplayName || id(x.vendor)}: ${x.title}`),
      datasets: [{
        label: "Cancel-by → end (days from today)",
        data: shown.map((x) => [x.daysToCancelBy ?? 0, x.daysToEnd ?? 0]),
        backgroundColor: shown.map((x) => ((x.daysToCancelBy ?? 1) <= 0 ? palette[4] : palette[0])),
      }],
    },
    options: { indexAxis: "y", scales: { x: { title: { display: true, text: "days from today" } }, y: { ticks: { autoSkip: false } } } },
  }, true));
  c.append(table([
    { title: "Contract", cell: (x) => link(`#/vendors/${id(x.vendor)}`, `${x.vendorDisplayName || id(x.vendor)}: ${x.title}`) },
    { title: "Cancel by", cell: (x) => date(x.cancelByDate) },
    { title: "Ends", class: "hide-narrow", cell: (x) => date(x.endDate) },
    { title: "Renewal value", class: "num", cell: (x) => money(x.renewalValue || x.annualValue) },
  ], shown));
  if (vendors?.renewalValueTotals?.length) c.append(h("p", {}, "Renewing in 90 days: ", vendors.renewalValueTotals.map(money).join(" + ")));
}

// slaCard lists the vendors that broke their contracts' service levels in the last 90 days, the
// most breaches first; each links to the vendor's page, which lists the breaches.
function slaCard(grid, vendors) {
  const rows = vendors?.slaBreaches || [];
  const c = card("SLA breaches by vendor (last 90 days)");
  grid.append(c);
  if (!rows.length) {
    c.append(h("p", { class: "muted" }, "No vendor broke a service level in the last 90 days."));
    return;
  }
  c.append(table([
    { title: "Vendor", cell: (x) => link(`#/vendors/${id(x.vendor)}`, x.vendorDisplayName || id(x.vendor)) },
    { title: "Breaches", class: "num", cell: (x) => String(x.breachCount || 0) },
    { title: "Resolution / availability", class: "hide-narrow", cell: (x) => `${x.resolutionTimeCount || 0} / ${x.availabilityCount || 0}` },
    { title: "Incidents", class: "num hide-narrow", cell: (x) => String(x.incidentCount || 0) },
    { title: "Last breach", cell: (x) => time(x.lastBreachTime) },
  ], rows.slice(0, 10), `${vendors.slaBreachCount || 0} breach(es) of ${vendors.slaBreachVendorCount || rows.length} vendor(s)`));
}

// incidentsCard draws incidents per month with the mean time to resolve, when the briefing
// carries the incidents' section.
function incidentsCard(grid, incidents) {
  if (!incidents) return;
  const months = incidents.months || [];
  const c = card("Incidents per month and MTTR");
  grid.append(c);
  if (!months.some((m) => m.incidentCount > 0)) {
    c.append(h("p", { class: "muted" }, "No incident yet."));
    return;
  }
  c.append(chart("Incidents opened per month, and mean time to resolve in hours", {
    type: "bar",
    data: {
      labels: months.map((m) => date(m.startDate).slice(0, 7)),
      datasets: [
        { label: "Incidents", data: months.map((m) => Number(m.incidentCount || 0)), backgroundColor: palette[0], yAxisID: "y" },
        { label: "MTTR (hours)", type: "line", data: months.map((m) => hours(m.mttr)), borderColor: palette[1], backgroundColor: palette[1], yAxisID: "y1" },
        { label: "MTTA (hours)", type: "line", data: months.map((m) => hours(m.mtta)), borderColor: palette[2], backgroundColor: palette[2], yAxisID: "y1" },
      ],
    },
    options: { scales: { y: { position: "left", beginAtZero: true }, y1: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } } } },
  }));
  c.append(table([
    { title: "Open incident", cell: (x) => link(`#/incidents/${id(x.incident)}`, x.title) },
    { title: "Severity", cell: (x) => badge(x.severity, x.severity === "SEV1" ? "bad" : "") },
    { title: "State", cell: (x) => badge(x.state) },
  ], (incidents.open || []).slice(0, 8)));
}


// headcountCard draws the headcount plans of the fiscal year in progress, summed over the teams,
// against the actual headcount and the open positions, quarter by quarter.
function headcountCard(grid, talent, today) {
  if (!talent) return;
  const quarters = talent.headcountPlanQuarters || [];
  const c = card("Headcount: plan vs actual");
  grid.append(c);
  if (!quarters.length) {
    c.append(h("p", { class: "muted" }, "No headcount plan for this fiscal year yet."));
    return;
  }
  const plans = talent.headcountPlans || [];
  const year = plans[0]?.fiscalYear;
  c.append(chart(`Planned and actual headcount per quarter${year ? ` of fiscal year ${year}` : ""}, over ${talent.headcountPlanCount || plans.length} teams' plans`, {
    type: "bar",
    data: {
      labels: quarters.map((q) => `Q${q.quarter} (to ${date(q.endDate)})`),
      datasets: [
        { label: "Planned", data: quarters.map((q) => Number(q.plannedHeadcount || 0)), backgroundColor: palette[7] },
        { label: "Actual", data: quarters.map((q) => Number(q.actualHeadcount || 0)), backgroundColor: palette[0] },
        { label: "Open positions", data: quarters.map((q) => Number(q.openPositions || 0)), backgroundColor: palette[1] },
      ],
    },
    options: { scales: { y: { beginAtZero: true } } },
  }));
  const current = (p) => (p.quarters || []).find((q) => date(q.startDate) <= today && today <= date(q.endDate)) || (p.quarters || [])[0] || {};
  c.append(table([
    { title: "Team", cell: (p) => link(`#/teams/${id(p.team)}`, p.teamDisplayName || id(p.team)) },
    { title: "Planned", class: "num", cell: (p) => String(current(p).plannedHeadcount || 0) },
    { title: "Actual", class: "num", cell: (p) => String(current(p).actualHeadcount || 0) },
    { title: "Open", class: "num hide-narrow", cell: (p) => String(current(p).openPositions || 0) },
  ], plans.slice(0, 8), "This quarter, the teams furthest below plan"));
}

// complianceCard lists each framework's posture, the least covered first, the controls whose
// test is overdue and the policies whose acknowledgements are overdue, when the briefing carries
// the compliance section.
function complianceCard(grid, compliance) {
  if (!compliance) return;
  const c = card("Compliance posture, overdue control tests and acknowledgements");
  grid.append(c);
  const frameworks = compliance.frameworks || [];
  if (!frameworks.length) c.append(h("p", { class: "muted" }, "No framework imported yet."));
  else c.append(table([
    { title: "Framework", cell: (f) => link(`#/${f.framework}`, f.title || id(f.framework)) },
    { title: "Covered", class: "num", cell: (f) => `${f.coveredPercent || 0} %` },
    { title: "Covered / partial / not", class: "num hide-narrow", cell: (f) => `${f.coveredCount || 0} / ${f.partialCount || 0} / ${f.notCoveredCount || 0} of ${f.requirementCount || 0}` },
  ], frameworks.slice(0, 8), compliance.frameworkCount > 8 ? `The 8 least covered of ${compliance.frameworkCount} frameworks` : null));
  const overdue = compliance.overdueControlTests || [];
  c.append(table([
    { title: "Control test due", cell: (x) => link(`#/${x.control}`, x.title || id(x.control)) },
    { title: "Due", cell: (x) => date(x.nextTestDate) },
    { title: "Days overdue", class: "num", cell: (x) => String(x.daysOverdue || 0) },
    { title: "Owner", class: "hide-narrow", cell: (x) => x.owner },
  ], overdue.slice(0, 8), `${compliance.overdueControlTestCount || 0} control test(s) due and not recorded`));
  if (!compliance.policyCount) return;
  c.append(table([
    { title: "Policy acknowledgement overdue", cell: (p) => link(`#/${p.policy}`, p.title || id(p.policy)) },
    { title: "People overdue", class: "num", cell: (p) => `${p.overdueCount || 0} of ${p.requiredCount || 0}` },
    { title: "Due", class: "hide-narrow", cell: (p) => date(p.dueDate) },
    { title: "Days overdue", class: "num", cell: (p) => String(p.daysOverdue || 0) },
  ], (compliance.overduePolicies || []).slice(0, 8), `${compliance.overduePolicyCount || 0} of ${compliance.policyCount} policies with acknowledgements overdue`));
}

// continuityCard lists the continuity plans not exercised within their cadence, when the
// briefing carries the continuity section and the company has plans.
function continuityCard(grid, continuity) {
  if (!continuity || !continuity.planCount) return;
  const c = card("Continuity plans not exercised within their cadence");
  grid.append(c);
  c.append(table([
    { title: "Plan", cell: (p) => link(`#/${p.continuityPlan}`, p.title || id(p.continuityPlan)) },
    { title: "Service", class: "hide-narrow", cell: (p) => p.service },
    { title: "Due by", cell: (p) => date(p.nextExerciseDate) },
    { title: "Days overdue", class: "num", cell: (p) => String(p.daysOverdue || 0) },
    { title: "Owner", class: "hide-narrow", cell: (p) => p.owner },
  ], (continuity.overduePlans || []).slice(0, 8), `${continuity.overduePlanCount || 0} of ${continuity.planCount} plan(s) overdue`));
}

function freshness(b) {
  const rows = b.freshness || [];
  return h("p", { class: "freshness" }, `Computed ${time(b.computeTime)}. Last event applied: `,
    rows.map((f, i) => [i ? "; " : "", `${f.domain} ${time(f.lastEventTime)}`]));
}
