// People: the list, with a search, and a person with their team, the position they filled and
// their skills. Pay (loadedAnnualCost) is shown only where the API returns it: a caller without
// talent.compensation gets no pay in any answer, and the pages then have no pay column at all.
import { get, list, id } from "./api.js";
import { chart, palette } from "./charts.js";
import { h, card, table, link, badge, fields, date, money, enumText, errorText } from "./ui.js";

// payColumn is the pay column of a table of people, when any of them carries pay.
export function payColumn(people) {
  if (!people.some((p) => p.loadedAnnualCost)) return [];
  return [{ title: "Loaded annual cost", class: "num pay", cell: (p) => money(p.loadedAnnualCost) }];
}

// personColumns are the columns of a table of people.
export function personColumns(people, teamName) {
  return [
    { title: "Name", cell: (p) => link(`#/people/${id(p.name)}`, p.displayName) },
    { title: "Title", cell: (p) => p.title || "—" },
    teamName ? { title: "Team", class: "hide-narrow", cell: (p) => link(`#/teams/${id(p.team)}`, teamName.get(p.team) || id(p.team)) } : null,
    { title: "Level", class: "hide-narrow", cell: (p) => p.level || "—" },
    { title: "Type", class: "hide-narrow", cell: (p) => enumText(p.employmentType) },
    { title: "Location", class: "hide-narrow", cell: (p) => p.location || "—" },
    { title: "State", class: "hide-narrow", cell: (p) => badge(p.state, p.state === "ACTIVE" ? "good" : "") },
    ...payColumn(people),
  ].filter(Boolean);
}

export async function peoplePage(view) {
  const [people, teams] = await Promise.all([
    list("/v1/people", "people", { orderBy: "display_name" }, 5000),
    list("/v1/teams", "teams", { orderBy: "display_name" }).catch(() => []),
  ]);
  const teamName = new Map(teams.map((t) => [t.name, t.displayName]));
  view.append(h("h1", {}, "People"));
  const active = people.filter((p) => p.state === "ACTIVE");
  if (active.length) view.append(card("People by level", levelChart(active)));

  const search = h("input", { id: "people-search", type: "search", autocomplete: "off", spellcheck: "false" });
  const team = h("select", { id: "people-team" }, h("option", { value: "" }, "All teams"),
    teams.map((t) => h("option", { value: t.name }, t.displayName)));
  const state = h("select", { id: "people-state" },
    h("option", { value: "ACTIVE" }, "Working here"), h("option", { value: "LEFT" }, "Left"), h("option", { value: "" }, "Everyone"));
  const count = h("p", { class: "muted", role: "status" });
  const body = h("div");
  const all = card("All people",
    h("div", { class: "toolbar" },
      h("label", { for: "people-search" }, "Search"), search,
      h("label", { for: "people-team" }, "Team"), team,
      h("label", { for: "people-state" }, "Showing"), state),
    count, body);
  view.append(all);
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const rows = people.filter((p) => (!state.value || p.state === state.value) && (!team.value || p.team === team.value) &&
      (!q || `${p.displayName} ${p.title || ""} ${p.location || ""}`.toLowerCase().includes(q)));
    count.textContent = `${rows.length} of ${people.length} people`;
    body.replaceChildren(table(personColumns(rows, teamName), rows));
  };
  for (const e of [search, team, state]) e.addEventListener(e === search ? "input" : "change", draw);
  draw();
}

// levelChart counts the people at each level of the ladder, employees and contractors stacked.
function levelChart(people) {
  const levels = [...new Set(people.map((p) => p.level || "—"))].sort();
  const count = (type) => levels.map((l) => people.filter((p) => (p.level || "—") === l && p.employmentType === type).length);
  return chart("People working here at each level, employees and contractors", {
    type: "bar",
    data: {
      labels: levels,
      datasets: [
        { label: "Employees", data: count("EMPLOYEE"), backgroundColor: palette[0] },
        { label: "Contractors", data: count("CONTRACTOR"), backgroundColor: palette[1] },
      ],
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

export async function personPage(view, personID) {
  const name = `people/${personID}`;
  const [p, filled, manages] = await Promise.all([
    get(`/v1/${name}`),
    list("/v1/positions", "positions", { filter: `person = "${name}"` }).catch(() => []),
    list("/v1/teams", "teams", { filter: `manager = "${name}"` }).catch(() => []),
  ]);
  const team = await get(`/v1/${p.team}`).catch(() => null);
  view.append(h("h1", {}, p.displayName, " ", badge(p.state, p.state === "ACTIVE" ? "good" : "")));
  const grid = h("div", { class: "grid" });
  view.append(grid);
  grid.append(card("Person", fields([
    ["Title", p.title], ["Level", p.level], ["Team", link(`#/teams/${id(p.team)}`, team?.displayName || id(p.team))],
    ["Employment", enumText(p.employmentType)], ["Location", p.location], ["E-mail", p.email],
    ["Started", date(p.startDate)], p.endDate ? ["Left", date(p.endDate)] : null,
    // Pay: only in an answer to a caller holding talent.compensation.
    p.loadedAnnualCost ? ["Loaded annual cost", h("span", { class: "pay" }, money(p.loadedAnnualCost))] : null,
  ])));
  grid.append(card("Responsibilities",
    manages.length ? h("p", {}, "Manages ", manages.map((t, i) => [i ? ", " : "", link(`#/teams/${id(t.name)}`, t.displayName)]), ".")
      : h("p", { class: "muted" }, "Manages no team."),
    filled.length ? h("p", {}, "Hired into ", filled.map((x, i) => [i ? ", " : "", link(`#/positions/${id(x.name)}`, x.title)]), ".") : null));
  const skills = card("Skills");
  view.append(skills);
  try {
    const [ratings, taxonomy] = await Promise.all([
      list(`/v1/${name}/skillRatings`, "skillRatings"),
      list("/v1/skills", "skills").catch(() => []),
    ]);
    const skillName = new Map(taxonomy.map((s) => [s.name, s.displayName]));
    const current = ratings.some((r) => r.current) ? ratings.filter((r) => r.current) : ratings;
    skills.append(current.length ? table([
      { title: "Skill", cell: (r) => skillName.get(r.skill) || id(r.skill) },
      { title: "Proficiency", class: "num", cell: (r) => `${r.proficiency ?? "—"} / 5` },
      { title: "Rated", class: "hide-narrow", cell: (r) => date(r.rateDate) },
    ], current) : h("p", { class: "muted" }, "No skill rated yet."));
  } catch (err) {
    skills.append(h("p", { class: "muted" }, err.status === 501 ? "The talent service does not record skills yet." : errorText(err)));
  }
}
