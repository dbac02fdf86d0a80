// The survey page's trend: each month's score (for NPS with its margin of error as a band), from the JSON the
// page carries. Without it the page reads the same: the table under the chart holds every figure.
(function () {
  "use strict";

  var canvas = document.getElementById("survey-trend-chart");
  var source = document.getElementById("survey-trend-data");
  if (!canvas || !source || typeof window.Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var brand = getComputedStyle(document.documentElement).getPropertyValue("--brand-600").trim() || "#4a3fe0";
  var band = "rgba(74, 63, 224, 0.12)";
  var nps = data.kind === "nps";
  var datasets = [];

  if (nps) {
    var low = data.values.map(function (v, i) { return v === null ? null : v - data.margins[i]; });
    var high = data.values.map(function (v, i) { return v === null ? null : v + data.margins[i]; });
    datasets.push({ label: "Lower bound", data: low, borderWidth: 0, pointRadius: 0, fill: false });
    datasets.push({ label: "Upper bound", data: high, borderWidth: 0, pointRadius: 0, fill: "-1",
                    backgroundColor: band });
  }
  datasets.push({ label: nps ? "NPS" : data.kind.toUpperCase(), data: data.values, borderColor: brand,
                  backgroundColor: brand, pointRadius: 3, tension: 0.2, spanGaps: false });

  canvas.closest("[data-chart-box]").hidden = false;
  new window.Chart(canvas, {
    type: "line",
    data: { labels: data.labels, datasets: datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      plugins: {
        legend: { display: false },
        tooltip: {
          filter: function (item) { return item.datasetIndex === datasets.length - 1; },
          callbacks: {
            label: function (item) {
              var text = item.dataset.label + " " + item.parsed.y;
              if (nps && data.margins[item.dataIndex] !== null) text += " ±" + data.margins[item.dataIndex];
              return text + " (" + data.responses[item.dataIndex] + " answers)";
            }
          }
        }
      },
      scales: {
        x: { grid: { display: false } },
        y: nps ? { min: -100, max: 100 } : { beginAtZero: true }
      }
    }
  });
})();
