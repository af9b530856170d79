// Incidents: the list with incidents and MTTR per month, and an incident with its timeline and,
// for a breach, its notification clocks.
import { get, list, id } from "./api.js";
import { chart, palette } from "./charts.js";
import { h, card, table, link, badge, fields, time, enumText } from "./ui.js";

// hours reads a protobuf Duration ("5400s") as hours, one decimal.
export function hours(d) {
  if (d === undefined || d === null) return null;
  return Math.round((parseFloat(String(d)) / 3600) * 10) / 10;
}

const severityClass = { SEV1: "bad", SEV2: "warn" };

export async function incidentsPage(view) {
  const end = new Date();
  const start = new Date(Date.UTC(end.getUTCFullYear() - 1, end.getUTCMonth() + 1, 1));
  const [incidents, metrics] = await Promise.all([
    list("/v1/incidents", "incidents", { orderBy: "detect_time desc" }),
    get("/v1/incidentMetrics", {
      "startDate.year": start.getUTCFullYear(), "startDate.month": start.getUTCMonth() + 1, "startDate.day": 1,
      "endDate.year": end.getUTCFullYear(), "endDate.month": end.getUTCMonth() + 1, "endDate.day": end.getUTCDate(),
      period: "MONTH",
    }).catch(() => null),
  ]);
  view.append(h("h1", {}, "Incidents"));
  const series = metrics?.groups?.[0]?.series || [];
  if (series.length) {
    view.append(card("Incidents per month and mean times",
      chart("Incidents detected per month, with the mean time to acknowledge and to resolve in hours", {
        type: "bar",
        data: {
          labels: series.map((p) => `${p.periodStart.year}-${String(p.periodStart.month).padStart(2, "0")}`),
          datasets: [
            { label: "Incidents", data: series.map((p) => Number(p.figures?.incidentCount || 0)), backgroundColor: palette[0], yAxisID: "y" },
            { label: "MTTR (hours)", type: "line", data: series.map((p) => hours(p.figures?.mttr)), borderColor: palette[1], backgroundColor: palette[1], yAxisID: "y1" },
            { label: "MTTA (hours)", type: "line", data: series.map((p) => hours(p.figures?.mtta)), borderColor: palette[2], backgroundColor: palette[2], yAxisID: "y1" },
          ],
        },
        options: { scales: { y: { position: "left", beginAtZero: true, title: { display: true, text: "incidents" } }, y1: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "hours" } } } },
      })));
  }
  view.append(card("All incidents", table([
    { title: "Incident", cell: (i) => link(`#/incidents/${id(i.name)}`, i.title) },
    { title: "Severity", cell: (i) => badge(i.severity, severityClass[i.severity] || "") },
    { title: "State", cell: (i) => badge(i.state, ["RESOLVED", "CLOSED"].includes(i.state) ? "good" : "") },
    { title: "Type", class: "hide-narrow", cell: (i) => enumText(i.type) },
    { title: "Detected", class: "hide-narrow", cell: (i) => time(i.detectTime) },
  ], incidents)));
}

export async function incidentPage(view, incidentID) {
  const name = `incidents/${incidentID}`;
  const [i, entries, impact] = await Promise.all([
    get(`/v1/${name}`),
    list(`/v1/${name}/timelineEntries`, "timelineEntries"),
    get(`/v1/${name}/breachImpact`).catch(() => null),
  ]);
  view.append(h("h1", {}, i.title, " ", badge(i.severity, severityClass[i.severity] || ""), " ", badge(i.state)));
  const grid = h("div", { class: "grid" });
  view.append(grid);
  grid.append(card("Incident", fields([
    ["Type", enumText(i.type)], ["Summary", i.summary], ["Affected services", (i.affectedServices || []).join(", ")],
    ["Commander", i.roles?.commander], ["Vendor", i.vendor ? link(`#/vendors/${id(i.vendor)}`, id(i.vendor)) : "—"],
    ["Detected", time(i.detectTime)], ["Acknowledged", time(i.acknowledgeTime)], ["Mitigated", time(i.mitigateTime)],
    ["Resolved", time(i.resolveTime)], ["Closed", time(i.closeTime)],
  ])));
  const clocks = impact?.notificationClocks || [];
  if (clocks.length) {
    grid.append(card("Breach notification clocks", fields([
      ["Affected subjects", impact.affectedSubjects], ["Data", (impact.dataCategories || []).map(enumText).join(", ")],
      ["Jurisdictions", (impact.jurisdictions || []).join(", ")],
    ]), table([
      { title: "Clock", cell: (c) => `${enumText(c.regime)} · ${c.recipient || ""}` },
      { title: "Due", cell: (c) => time(c.dueTime) },
      { title: "State", cell: (c) => badge(c.state, c.state === "OVERDUE" ? "bad" : c.state === "NOTIFIED" ? "good" : "warn") },
      { title: "Notified", class: "hide-narrow", cell: (c) => time(c.notifyTime) },
    ], clocks)));
  }
  view.append(card("Timeline", h("ol", { class: "timeline" }, entries.map((e) => h("li", {},
    h("time", {}, time(e.occurTime)), " ", badge(e.kind), " ",
    e.text || (e.toState ? `${enumText(e.fromState)} → ${enumText(e.toState)}` : "") || (e.toSeverity ? `${e.fromSeverity} → ${e.toSeverity}` : ""),
    e.reason ? h("span", { class: "muted" }, ` — ${e.reason}`) : null)))));
}
