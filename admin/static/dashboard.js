// The dashboard's charts (Chart.js), drawn from the JSON the page carries; drawn again whenever
// the live part of the page is swapped in (htmx), so the charts follow the numbers.
(function () {
  "use strict";
  const drawn = {};
  const FUNNEL = ["scanned", "leads", "first_dms", "replies", "opt_outs"];
  const COLOURS = {
    scanned: "#adb5bd", leads: "#206bc4", first_dms: "#4299e1", replies: "#2fb344",
    opt_outs: "#d63939", prompt_tokens: "#ae3ec9", completion_tokens: "#f76707", cost: "#0ca678",
  };

  function dataset(data, name, extra) {
    return Object.assign({
      label: data.names[name], data: data.series[name], borderColor: COLOURS[name],
      backgroundColor: COLOURS[name], tension: 0.25, pointRadius: 0,
    }, extra || {});
  }

  function replace(id, config) {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    if (drawn[id]) drawn[id].destroy();
    drawn[id] = new window.Chart(canvas, config);
  }

  function draw() {
    const source = document.getElementById("dashboard-data");
    if (!source || !window.Chart) return;
    const data = JSON.parse(source.textContent);
    const labels = data.series.labels.map((day) => day.slice(5));
    const common = { responsive: true, maintainAspectRatio: false, animation: false,
      interaction: { mode: "index", intersect: false } };
    replace("chart-funnel", {
      type: "line",
      data: { labels, datasets: FUNNEL.map((name) => dataset(data, name, {
        yAxisID: name === "scanned" ? "scanned" : "y" })) },
      options: Object.assign({}, common, { scales: {
        y: { beginAtZero: true, position: "left" },
        scanned: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } },
      } }),
    });
    replace("chart-llm", {
      type: "bar",
      data: { labels, datasets: [
        dataset(data, "prompt_tokens", { stack: "tokens" }),
        dataset(data, "completion_tokens", { stack: "tokens" }),
        dataset(data, "cost", { type: "line", yAxisID: "cost" }),
      ] },
      options: Object.assign({}, common, { scales: {
        y: { beginAtZero: true, stacked: true },
        cost: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } },
      } }),
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
