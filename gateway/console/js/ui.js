// DOM and formatting helpers. Everything from the API is put in the page as text, never as HTML.

export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// moneyNumber turns a google.type.Money into a number, for charts only.
export function moneyNumber(m) {
  if (!m) return 0;
  return Number(m.units || 0) + Number(m.nanos || 0) / 1e9;
}

// money formats a google.type.Money from its units as a string (exact), with a thousands
// separator; cents are shown when there are any. An absent amount (the caller's scopes hide it,
// or there is none) is "—".
export function money(m) {
  if (!m) return "—";
  const neg = String(m.units || "0").startsWith("-") || (m.nanos || 0) < 0;
  const units = String(m.units || "0").replace("-", "");
  const grouped = units.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const cents = Math.floor(Math.abs(m.nanos || 0) / 1e7);
  return `${neg ? "−" : ""}${grouped}${cents ? "." + String(cents).padStart(2, "0") : ""} ${m.currencyCode || ""}`.trim();
}

// compact formats a number for chart axes: 1.2M, 350k.
export function compact(n) {
  return new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 }).format(n);
}

export function date(d) {
  if (!d || !d.year) return "—";
  return `${d.year}-${String(d.month).padStart(2, "0")}-${String(d.day || 1).padStart(2, "0")}`;
}

export function time(t) {
  if (!t) return "—";
  return t.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// duration formats a protobuf Duration ("5400s") as hours and minutes: "1 h 30 min".
export function duration(d) {
  if (d === undefined || d === null || d === "") return "—";
  const minutes = Math.round(parseFloat(String(d)) / 60);
  if (!Number.isFinite(minutes)) return "—";
  const hh = Math.floor(minutes / 60), mm = minutes % 60;
  if (!hh) return `${mm} min`;
  return mm ? `${hh} h ${mm} min` : `${hh} h`;
}

export function enumText(v) {
  if (!v) return "—";
  return String(v).replace(/_/g, " ").toLowerCase().replace(/^./, (c) => c.toUpperCase());
}

export function badge(v, cls) {
  return h("span", { class: `badge ${cls || v || ""}` }, enumText(v));
}

export function table(columns, rows, caption) {
  return h("div", { class: "table-wrap" },
    h("table", {},
      caption ? h("caption", { class: "muted" }, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.title)))),
      h("tbody", {}, rows.length
        ? rows.map((r) => h("tr", {}, columns.map((c) => h("td", { class: c.class }, c.cell(r)))))
        : h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, "None.")))));
}

export function fields(pairs) {
  return h("dl", { class: "fields" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]));
}

export function card(title, ...body) {
  return h("section", { class: "card", "aria-label": title }, h("h2", {}, title), ...body);
}

export function kpi(label, value) {
  return h("div", { class: "kpi" }, h("span", {}, label), h("b", {}, value));
}

export function link(href, text) {
  return h("a", { href }, text || "—");
}

export function errorText(err) {
  if (err?.status === 403) return `Your credential does not allow this (${err.reason || "permission denied"}).`;
  if (err?.status === 404) return "Not found, or not served by this platform.";
  return `Could not load: ${err?.message || err}`;
}
