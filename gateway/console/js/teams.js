// Teams: the organisation's tree, and a team with its sub-teams and its skill coverage.
import { get, list, id } from "./api.js";
import { chart, palette } from "./charts.js";
import { h, card, table, link, fields, errorText } from "./ui.js";

export async function teamsPage(view) {
  const teams = await list("/v1/teams", "teams", { orderBy: "display_name" });
  const byName = new Map(teams.map((t) => [t.name, t]));
  view.append(h("h1", {}, "Teams"), table([
    { title: "Team", cell: (t) => link(`#/teams/${id(t.name)}`, t.displayName) },
    { title: "Part of", cell: (t) => (t.parent ? byName.get(t.parent)?.displayName || id(t.parent) : "—") },
    { title: "Cost centre", class: "hide-narrow", cell: (t) => id(t.costCenter) || "—" },
  ], teams));
}

export async function teamPage(view, teamID) {
  const name = `teams/${teamID}`;
  const [t, children] = await Promise.all([
    get(`/v1/${name}`),
    list("/v1/teams", "teams", { filter: `parent = "${name}"` }),
  ]);
  view.append(h("h1", {}, t.displayName));
  const grid = h("div", { class: "grid" });
  view.append(grid);
  grid.append(card("Team", fields([
    ["Description", t.description], ["Part of", t.parent ? link(`#/teams/${id(t.parent)}`, id(t.parent)) : "—"],
    ["Cost centre", t.costCenter ? id(t.costCenter) : "—"], ["Manager", t.manager ? id(t.manager) : "—"],
  ])));
  grid.append(card("Sub-teams", table([
    { title: "Team", cell: (c) => link(`#/teams/${id(c.name)}`, c.displayName) },
  ], children)));
  const coverage = card("Skill coverage");
  view.append(coverage);
  try {
    const c = await get(`/v1/${name}/coverage`);
    const skills = c.skills || [];
    if (!skills.length) {
      coverage.append(h("p", { class: "muted" }, "No skill requirement yet."));
    } else {
      coverage.append(chart("People meeting each required skill, against the number required", {
        type: "bar",
        data: {
          labels: skills.map((s) => id(s.skill)),
          datasets: [
            { label: "Required", data: skills.map((s) => s.requiredPeople || 0), backgroundColor: palette[7] },
            { label: "Covered", data: skills.map((s) => s.coveredPeople || 0), backgroundColor: palette[0] },
          ],
        },
      }));
      coverage.append(table([
        { title: "Skill", cell: (s) => id(s.skill) },
        { title: "Shortfall", class: "num", cell: (s) => s.shortfall || 0 },
        { title: "Key person", cell: (s) => (s.keyPersonRisk ? id(s.keyPerson) : "—") },
      ], skills));
    }
  } catch (err) {
    coverage.append(h("p", { class: "muted" }, err.status === 501 ? "The talent service does not compute coverage yet." : errorText(err)));
  }
}
