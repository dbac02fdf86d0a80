// The reports page's chart: the points owed at the end of each day, from the JSON the page carries.
// Without it the page reads the same: the table under the chart holds every figure.
(function () {
  "use strict";

  var canvas = document.getElementById("liability-chart");
  var source = document.getElementById("liability-chart-data");
  if (!canvas || !source || typeof window.Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var brand = getComputedStyle(document.documentElement).getPropertyValue("--brand-600").trim() || "#4a3fe0";

  new window.Chart(canvas, {
    type: "line",
    data: {
      labels: data.labels,
      datasets: [{
        label: "Points owed",
        data: data.closing,
        borderColor: brand,
        backgroundColor: "rgba(74, 63, 224, 0.08)",
        fill: true,
        pointRadius: data.labels.length > 40 ? 0 : 2,
        tension: 0.2
      }]
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      plugins: { legend: { display: false } },
      scales: {
        x: { ticks: { maxTicksLimit: 8, autoSkip: true }, grid: { display: false } },
        y: { ticks: { precision: 0 }, beginAtZero: false }
      }
    }
  });
})();
