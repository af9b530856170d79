// Compliance and continuity: the frameworks' posture, the controls and their tests, the policies
// and their acknowledgement campaigns, the continuity plans and their exercises.
import { get, list, id, eachLimited } from "./api.js";
import { chart, palette } from "./charts.js";
import { hours } from "./incidents.js";
import { h, card, kpi, table, link, badge, fields, date, time, duration, enumText } from "./ui.js";

const resultClass = { EFFECTIVE: "good", PARTIALLY_EFFECTIVE: "warn", INEFFECTIVE: "bad", MET: "good", MISSED: "bad" };
const coverageClass = { COVERED: "good", PARTIAL: "warn", NOT_COVERED: "bad" };

// resultBadge is a control test's or an exercise target's result, coloured.
function resultBadge(r) {
  return r ? badge(r, resultClass[r] || "") : "—";
}

// overdueBadge flags a control's test or a plan's exercise that is due and not recorded.
function overdueBadge(overdue) {
  return overdue ? badge("overdue", "bad") : badge("on time", "good");
}

// webLink links to an address on the web; anything else is shown as text, never followed.
function webLink(uri) {
  if (!uri) return "—";
  return /^https?:\/\//i.test(uri) ? h("a", { href: uri, rel: "noopener noreferrer", target: "_blank" }, uri) : uri;
}

// links links each resource name to its page, by its id; "—" when there are none.
function links(names) {
  if (!names?.length) return "—";
  return names.map((n, i) => [i ? ", " : "", link(`#/${n}`, id(n))]);
}

// goodFairBad draws the three parts of a whole, [label, count] each, in green, amber and red.
function goodFairBad(label, parts) {
  return chart(label, {
    type: "doughnut",
    data: { labels: parts.map(([l]) => l), datasets: [{ data: parts.map(([, n]) => n || 0), backgroundColor: [palette[2], palette[1], palette[4]] }] },
  });
}

// coverageChart stacks each framework's requirements by coverage, a bar per framework.
function coverageChart(rows) {
  return chart("Requirements of each framework covered, partially covered and not covered", {
    type: "bar",
    data: {
      labels: rows.map((r) => r.framework.title || id(r.framework.name)),
      datasets: [
        { label: "Covered", data: rows.map((r) => r.posture.coveredCount || 0), backgroundColor: palette[2] },
        { label: "Partial", data: rows.map((r) => r.posture.partialCount || 0), backgroundColor: palette[1] },
        { label: "Not covered", data: rows.map((r) => r.posture.notCoveredCount || 0), backgroundColor: palette[4] },
      ],
    },
    options: { indexAxis: "y", scales: { x: { stacked: true, beginAtZero: true }, y: { stacked: true } } },
  });
}

export async function compliancePage(view) {
  const [frameworks, controls, policies, plans] = await Promise.all([
    list("/v1/frameworks", "frameworks"),
    list("/v1/controls", "controls", { orderBy: "title" }),
    // The FULL view brings each policy's campaign counts (without its people).
    list("/v1/policies", "policies", { orderBy: "title", view: "FULL" }),
    list("/v1/continuityPlans", "continuityPlans", { orderBy: "title" }),
  ]);
  // Each framework's posture, a few calls at a time; one that fails shows as "—".
  const postures = await eachLimited(frameworks, 4, (f) => get(`/v1/${f.name}/posture`).catch(() => null));
  const framed = frameworks.map((f, i) => ({ framework: f, posture: postures[i] }));
  const campaigned = policies.map((p) => ({ policy: p, campaign: p.campaign }));
  view.append(h("h1", {}, "Compliance and continuity"));
  view.append(h("div", { class: "kpis" },
    kpi("Control tests due", `${controls.filter((c) => c.testDue).length} of ${controls.length}`),
    kpi("Controls last found ineffective", controls.filter((c) => c.lastResult === "INEFFECTIVE").length),
    kpi("People overdue on a policy", campaigned.reduce((n, c) => n + (c.campaign?.overdueCount || 0), 0)),
    kpi("Continuity plans overdue", `${plans.filter((p) => p.exerciseOverdue).length} of ${plans.length}`)));

  const fw = card("Frameworks");
  view.append(fw);
  if (framed.length) {
    fw.append(coverageChart(framed.filter((r) => r.posture)));
    fw.append(table([
      { title: "Framework", cell: (r) => link(`#/${r.framework.name}`, r.framework.title || id(r.framework.name)) },
      { title: "Covered", class: "num", cell: (r) => (r.posture ? `${r.posture.coveredPercent || 0} %` : "—") },
      { title: "Covered / partial / not", class: "num hide-narrow", cell: (r) => (r.posture ? `${r.posture.coveredCount || 0} / ${r.posture.partialCount || 0} / ${r.posture.notCoveredCount || 0}` : "—") },
      { title: "Requirements", class: "num hide-narrow", cell: (r) => String(r.framework.requirementCount || 0) },
    ], framed));
  } else fw.append(h("p", { class: "muted" }, "No framework imported yet."));

  view.append(card("Controls", table([
    { title: "Control", cell: (c) => link(`#/${c.name}`, c.title) },
    { title: "Type", class: "hide-narrow", cell: (c) => enumText(c.type) },
    { title: "Tested", class: "hide-narrow", cell: (c) => enumText(c.testFrequency) },
    { title: "Last result", cell: (c) => resultBadge(c.lastResult) },
    { title: "Next test", class: "hide-narrow", cell: (c) => date(c.nextTestDate) },
    { title: "Test", cell: (c) => overdueBadge(c.testDue) },
  ], controls)));

  view.append(card("Policies and their acknowledgement", table([
    { title: "Policy", cell: (r) => link(`#/${r.policy.name}`, r.policy.title) },
    { title: "Version", class: "hide-narrow", cell: (r) => r.policy.currentVersion || "—" },
    { title: "Acknowledged", class: "num", cell: (r) => (r.campaign ? `${r.campaign.acknowledgedCount || 0} of ${r.campaign.requiredCount || 0}` : "—") },
    { title: "Overdue", class: "num", cell: (r) => (!r.campaign ? "—" : r.campaign.overdueCount ? badge(String(r.campaign.overdueCount), "bad") : "0") },
    { title: "Due", class: "hide-narrow", cell: (r) => date(r.campaign?.dueDate) },
  ], campaigned)));

  view.append(card("Continuity plans", table([
    { title: "Plan", cell: (p) => link(`#/${p.name}`, p.title) },
    { title: "Service", class: "hide-narrow", cell: (p) => p.service },
    { title: "RTO / RPO", class: "num hide-narrow", cell: (p) => `${duration(p.recoveryTimeObjective)} / ${duration(p.recoveryPointObjective)}` },
    { title: "Last exercise", class: "hide-narrow", cell: (p) => date(p.lastExerciseDate) },
    { title: "Next by", cell: (p) => date(p.nextExerciseDate) },
    { title: "Exercise", cell: (p) => overdueBadge(p.exerciseOverdue) },
  ], plans)));
}

export async function frameworkPage(view, frameworkID) {
  const name = `frameworks/${frameworkID}`;
  const [f, posture, snapshots] = await Promise.all([
    get(`/v1/${name}`),
    get(`/v1/${name}/posture`),
    list(`/v1/${name}/postureSnapshots`, "postureSnapshots").catch(() => []),
  ]);
  view.append(h("h1", {}, f.title || frameworkID));
  view.append(h("div", { class: "kpis" },
    kpi("Covered", `${posture.coveredPercent || 0} %`),
    kpi("Requirements covered", posture.coveredCount || 0), kpi("Partially covered", posture.partialCount || 0),
    kpi("Not covered", posture.notCoveredCount || 0)));
  const grid = h("div", { class: "grid" });
  view.append(grid);
  grid.append(card("Framework", fields([
    ["Publisher", f.publisher], ["Edition", f.edition], ["Requirements", String(f.requirementCount || 0)], ["Description", f.description],
  ])));
  const coverage = card("Coverage");
  grid.append(coverage);
  if (posture.requirementCount) {
    coverage.append(goodFairBad("Requirements covered, partially covered and not covered",
      [["Covered", posture.coveredCount], ["Partial", posture.partialCount], ["Not covered", posture.notCoveredCount]]));
  } else coverage.append(h("p", { class: "muted" }, "The framework has no requirement."));
  if (snapshots.length > 1) {
    grid.append(card("Coverage over time", chart("Requirements covered at each day's snapshot", {
      type: "line",
      data: {
        labels: snapshots.map((s) => date(s.snapshotDate)),
        datasets: [
          { label: "Covered", data: snapshots.map((s) => s.coveredCount || 0), borderColor: palette[2], backgroundColor: palette[2], stepped: true },
          { label: "Partial", data: snapshots.map((s) => s.partialCount || 0), borderColor: palette[1], backgroundColor: palette[1], stepped: true },
        ],
      },
      options: { scales: { y: { beginAtZero: true } } },
    })));
  }
  view.append(card("Requirements not covered", table([
    { title: "Requirement", cell: (g) => g.identifier },
    { title: "Title", cell: (g) => g.title },
    { title: "Coverage", cell: (g) => badge(g.coverage, coverageClass[g.coverage] || "") },
    { title: "Controls", class: "hide-narrow", cell: (g) => links(g.controls) },
  ], posture.gaps || [], `${(posture.gaps || []).length} of ${posture.requirementCount || 0} requirements, in the framework's order`)));
}

export async function controlPage(view, controlID) {
  const name = `controls/${controlID}`;
  const [c, tests] = await Promise.all([
    get(`/v1/${name}`),
    list(`/v1/${name}/tests`, "controlTests", { orderBy: "test_date desc" }),
  ]);
  // The requirements and risks it names, by their titles (the first 50 of each), a few calls at
  // a time.
  const [requirements, risks] = await Promise.all([
    eachLimited((c.requirements || []).slice(0, 50), 4, (r) => get(`/v1/${r}`).catch(() => ({ name: r }))),
    eachLimited((c.risks || []).slice(0, 50), 4, (r) => get(`/v1/${r}`).catch(() => ({ name: r }))),
  ]);
  view.append(h("h1", {}, c.title, " ", resultBadge(c.lastResult)));
  const grid = h("div", { class: "grid" });
  view.append(grid);
  grid.append(card("Control", fields([
    ["Type", enumText(c.type)], ["Owner", c.owner], ["Tested", enumText(c.testFrequency)], ["Description", c.description],
    ["Last test", date(c.lastTestDate)], ["Next test", date(c.nextTestDate)], ["Test", overdueBadge(c.testDue)],
  ])));
  grid.append(card("What it satisfies and mitigates", table([
    { title: "Requirement", cell: (r) => link(`#/${r.name.split("/").slice(0, 2).join("/")}`, r.identifier ? `${r.identifier} ${r.title}` : r.name) },
  ], requirements), table([
    { title: "Risk", cell: (r) => link(`#/risks/${id(r.name)}`, r.title || id(r.name)) },
    { title: "State", cell: (r) => (r.state ? badge(r.state) : "—") },
  ], risks)));
  view.append(card("Tests", table([
    { title: "Tested", cell: (t) => date(t.testDate) },
    { title: "Result", cell: (t) => resultBadge(t.result) },
    { title: "Notes", cell: (t) => t.notes || "—" },
    { title: "Risks raised", class: "hide-narrow", cell: (t) => links(t.raisedRisks) },
    { title: "Tester", class: "hide-narrow", cell: (t) => t.tester },
  ], tests, "The most recent first")));
}

// campaignFilters are the choices of a campaign's people, as filters of
// ListPolicyCampaignPeople.
const campaignFilters = [
  ["", "Everyone asked"],
  ['acknowledged_version = ""', "Not acknowledged"],
  ["overdue = true", "Overdue"],
  ['acknowledged_version != ""', "Acknowledged"],
];

// campaignPeople is how many of a campaign's people the policy page shows at once.
const campaignPeople = 200;

export async function policyPage(view, policyID) {
  const name = `policies/${policyID}`;
  const [p, versions, campaign] = await Promise.all([
    get(`/v1/${name}`),
    list(`/v1/${name}/versions`, "policyVersions"),
    get(`/v1/${name}/campaign`, { view: "BASIC" }),
  ]);
  view.append(h("h1", {}, p.title, p.currentVersion ? h("span", { class: "muted" }, ` · ${p.currentVersion}`) : null));
  view.append(h("div", { class: "kpis" },
    kpi("Asked to acknowledge", campaign.requiredCount || 0), kpi("Acknowledged", campaign.acknowledgedCount || 0),
    kpi("Not yet", campaign.pendingCount || 0), kpi("Overdue", campaign.overdueCount || 0)));
  const grid = h("div", { class: "grid" });
  view.append(grid);
  grid.append(card("Policy", fields([
    ["Summary", p.summary], ["Owner", p.owner],
    ["Asks", p.everyone ? "Everyone" : links(p.teams)],
    ["Days to acknowledge", String(p.acknowledgementDays || 0)], ["Effective", date(p.effectiveDate)],
    ["Document", webLink(p.documentUri)], ["Acknowledgement due", date(campaign.dueDate)],
  ])));
  const chartCard = card("Acknowledgement of the current major version");
  grid.append(chartCard);
  if (campaign.requiredCount) {
    chartCard.append(goodFairBad("People who acknowledged, have not yet, and are overdue", [["Acknowledged", campaign.acknowledgedCount],
      ["Not yet, not overdue", (campaign.pendingCount || 0) - (campaign.overdueCount || 0)], ["Overdue", campaign.overdueCount]]));
  } else chartCard.append(h("p", { class: "muted" }, p.currentVersion ? "Nobody is asked." : "No version published yet."));

  const show = h("select", { id: "campaign-filter" }, campaignFilters.map(([v, text]) => h("option", { value: v }, text)));
  const count = h("p", { class: "muted", role: "status" });
  const body = h("div");
  view.append(card("People asked",
    h("div", { class: "toolbar" }, h("label", { for: "campaign-filter" }, "Showing"), show), count, body));
  let drawing = 0;
  const draw = async () => {
    const run = ++drawing;
    const people = await list(`/v1/${name}/campaign/people`, "people", { filter: show.value, orderBy: "team, display_name" }, campaignPeople);
    if (run !== drawing) return;
    count.textContent = people.length === campaignPeople ? `The first ${campaignPeople}, by team` : `${people.length} ${people.length === 1 ? "person" : "people"}`;
    body.replaceChildren(table([
      { title: "Person", cell: (x) => link(`#/people/${id(x.person)}`, x.displayName || id(x.person)) },
      { title: "Team", class: "hide-narrow", cell: (x) => link(`#/teams/${id(x.team)}`, id(x.team)) },
      { title: "Acknowledged", cell: (x) => (x.acknowledgedVersion ? `${x.acknowledgedVersion} · ${time(x.acknowledgeTime).slice(0, 10)}` : x.overdue ? badge("overdue", "bad") : badge("not yet", "warn")) },
    ], people));
  };
  show.addEventListener("change", () => draw().catch((err) => { count.textContent = err.message; }));
  await draw();

  view.append(card("Versions", table([
    { title: "Version", cell: (v) => v.version },
    { title: "Effective", cell: (v) => date(v.effectiveDate) },
    { title: "Change", cell: (v) => v.changeSummary || "—" },
    { title: "Acknowledgement", class: "hide-narrow", cell: (v) => (v.requiresAcknowledgement ? `due ${date(v.acknowledgementDueDate)}` : "kept") },
    { title: "Document", class: "hide-narrow", cell: (v) => webLink(v.documentUri) },
  ], versions, "The latest first")));
}

export async function continuityPlanPage(view, planID) {
  const name = `continuityPlans/${planID}`;
  const [p, exercises] = await Promise.all([
    get(`/v1/${name}`),
    list(`/v1/${name}/exercises`, "continuityExercises", { orderBy: "exercise_date desc" }),
  ]);
  view.append(h("h1", {}, p.title, " ", overdueBadge(p.exerciseOverdue)));
  const grid = h("div", { class: "grid" });
  view.append(grid);
  const cadence = p.exerciseCadence || {};
  grid.append(card("Plan", fields([
    ["Service", p.service], ["Owner", p.owner], ["Description", p.description],
    ["Recovery time objective", duration(p.recoveryTimeObjective)], ["Recovery point objective", duration(p.recoveryPointObjective)],
    ["Exercised every", cadence.months ? `${cadence.months} months` : "—"],
    ["Depends on vendors", links(p.vendorDependencies)],
    ["Depends on services", (p.serviceDependencies || []).join(", ") || "—"],
    ["Risk", links(p.risk ? [p.risk] : [])],
    ["Last exercise", date(p.lastExerciseDate)], ["Next exercise by", date(p.nextExerciseDate)],
  ])));
  const timed = [...exercises].reverse().filter((e) => e.achievedRecoveryTime);
  if (timed.length) {
    grid.append(card("Recovery time at each exercise", chart("Recovery time achieved at each exercise against the objective, in hours", {
      type: "bar",
      data: {
        labels: timed.map((e) => date(e.exerciseDate)),
        datasets: [
          // The objective is drawn over the bars (a lower order is drawn on top).
          { label: "Objective (hours)", type: "line", order: 0, data: timed.map((e) => hours(e.recoveryTimeObjective)), borderColor: palette[7], backgroundColor: palette[7], pointStyle: "line", pointRadius: 24, pointBorderWidth: 3, stepped: true },
          { label: "Achieved (hours)", order: 1, data: timed.map((e) => hours(e.achievedRecoveryTime)), backgroundColor: timed.map((e) => (e.recoveryTimeResult === "MISSED" ? palette[4] : palette[2])) },
        ],
      },
      options: { scales: { y: { beginAtZero: true } } },
    })));
  }
  view.append(card("Exercises", table([
    { title: "Exercised", cell: (e) => date(e.exerciseDate) },
    { title: "Kind", cell: (e) => enumText(e.kind) },
    { title: "Recovery time", cell: (e) => [duration(e.achievedRecoveryTime), " ", resultBadge(e.recoveryTimeResult)] },
    { title: "Recovery point", class: "hide-narrow", cell: (e) => [duration(e.achievedRecoveryPoint), " ", resultBadge(e.recoveryPointResult)] },
    { title: "Findings", class: "num hide-narrow", cell: (e) => String((e.findings || []).length) },
    { title: "Incident", class: "hide-narrow", cell: (e) => links(e.incident ? [e.incident] : []) },
  ], exercises, "The most recent first")));
}
