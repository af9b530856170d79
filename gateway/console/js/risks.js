// Risks: the register, and a risk with its score history, actions and acceptances.
import { get, list, id } from "./api.js";
import { chart, palette } from "./charts.js";
import { h, card, table, link, badge, fields, date, time, enumText } from "./ui.js";

export async function risksPage(view) {
  const risks = await list("/v1/risks", "risks", { orderBy: "title" });
  view.append(h("h1", {}, "Risks"), table([
    { title: "Risk", cell: (r) => link(`#/risks/${id(r.name)}`, r.title) },
    { title: "Category", class: "hide-narrow", cell: (r) => enumText(r.category) },
    { title: "State", cell: (r) => badge(r.state) },
    { title: "Residual", cell: (r) => (r.residual?.level ? [badge(r.residual.level), ` ${r.residual.score}`] : "—") },
    { title: "Above appetite", class: "hide-narrow", cell: (r) => (r.aboveAppetite ? badge("yes", "bad") : "no") },
    { title: "Owner", class: "hide-narrow", cell: (r) => r.owner },
  ], risks));
}

export async function riskPage(view, riskID) {
  const name = `risks/${riskID}`;
  const [r, changes, actions, acceptances] = await Promise.all([
    get(`/v1/${name}`),
    list(`/v1/${name}/scoreChanges`, "riskScoreChanges").catch(() => []),
    list(`/v1/${name}/actions`, "mitigationActions").catch(() => []),
    list(`/v1/${name}/acceptances`, "acceptances").catch(() => []),
  ]);
  view.append(h("h1", {}, r.title, " ", badge(r.state)));
  const grid = h("div", { class: "grid" });
  view.append(grid);
  grid.append(card("Risk", fields([
    ["Category", enumText(r.category)], ["Owner", r.owner], ["Description", r.description],
    ["Inherent", r.inherent?.level ? [badge(r.inherent.level), ` ${r.inherent.score}`] : "—"],
    ["Residual", r.residual?.level ? [badge(r.residual.level), ` ${r.residual.score}`] : "—"],
    ["Above appetite", r.aboveAppetite ? "yes" : "no"], ["Treatment", enumText(r.treatment)], ["Next review", date(r.nextReviewDate)],
  ])));
  const hist = card("Score history");
  grid.append(hist);
  if (changes.length) {
    hist.append(chart("Inherent and residual score at each assessment", {
      type: "line",
      data: {
        labels: changes.map((c) => time(c.createTime || c.changeTime).slice(0, 10)),
        datasets: [
          { label: "Inherent", data: changes.map((c) => c.toInherent?.score ?? null), borderColor: palette[4], backgroundColor: palette[4], stepped: true },
          { label: "Residual", data: changes.map((c) => c.toResidual?.score ?? null), borderColor: palette[0], backgroundColor: palette[0], stepped: true },
        ],
      },
      options: { scales: { y: { beginAtZero: true } } },
    }));
  } else hist.append(h("p", { class: "muted" }, "Not assessed yet."));
  view.append(card("Mitigation actions", table([
    { title: "Action", cell: (a) => a.title },
    { title: "State", cell: (a) => badge(a.state) },
    { title: "Due", cell: (a) => date(a.dueDate) },
    { title: "Owner", class: "hide-narrow", cell: (a) => a.owner },
  ], actions)));
  view.append(card("Acceptances", table([
    { title: "Acceptance", cell: (a) => a.justification },
    { title: "State", cell: (a) => badge(a.state) },
    { title: "Expires", cell: (a) => date(a.expiryDate) },
  ], acceptances)));
}
