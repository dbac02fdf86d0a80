// The Surveys page's charts: each NPS survey's score month by month, with its margin of error as a band,
// from the JSON the page carries. Without it the page reads the same: the table under each chart has the figures.
(function () {
  "use strict";

  if (typeof window.Chart === "undefined") return;
  var brand = getComputedStyle(document.documentElement).getPropertyValue("--brand-600").trim() || "#4a3fe0";

  document.querySelectorAll("canvas.survey-trend").forEach(function (canvas) {
    var source = document.getElementById(canvas.dataset.source);
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var band = { borderWidth: 0, pointRadius: 0, backgroundColor: "rgba(74, 63, 224, 0.10)", spanGaps: false };
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          Object.assign({ label: "Upper bound", data: data.high, fill: "+1" }, band),
          Object.assign({ label: "Lower bound", data: data.low, fill: false }, band),
          { label: "NPS", data: data.nps, borderColor: brand, backgroundColor: brand, pointRadius: 3, tension: 0.2 }
        ]
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { x: { grid: { display: false } }, y: { min: -100, max: 100, ticks: { stepSize: 50 } } }
      }
    });
  });
})();
