// Charts, drawn by the vendored Chart.js (window.Chart, loaded before the modules).

export const palette = ["#1f5fbf", "#e07b00", "#2e8540", "#8e44ad", "#b3261e", "#00838f", "#6d4c41", "#5b6675"];
export const levelColours = { VERY_LOW: "#2e8540", LOW: "#7cb342", MEDIUM: "#f9a825", HIGH: "#ef6c00", CRITICAL: "#b3261e", VERY_HIGH: "#b3261e" };

const live = new Set();

// destroyAll releases the charts of the page being left.
export function destroyAll() {
  for (const c of live) c.destroy();
  live.clear();
}

// chart draws a chart in a new canvas inside a sized box, with an accessible label. tall is true
// for a taller box, or "long" for one tall enough for a bar per item of a long list.
export function chart(label, config, tall) {
  const box = document.createElement("div");
  box.className = tall === "long" ? "chart long" : tall ? "chart tall" : "chart";
  const canvas = document.createElement("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", label);
  box.append(canvas);
  config.options = {
    responsive: true, maintainAspectRatio: false, animation: false,
    ...config.options,
  };
  const c = new window.Chart(canvas, config);
  live.add(c);
  return box;
}
