// The analytics pages' charts, each drawn from the JSON the page carries next to its canvas
// (staff.analytics.common.chart). Without JavaScript the pages read the same: every chart's
// figures are in a table on the page.
(function () {
  "use strict";

  if (typeof window.Chart === "undefined") return;
  var style = getComputedStyle(document.documentElement);
  var brand = style.getPropertyValue("--brand-600").trim() || "#4a3fe0";
  // Brand first, then colours that stay apart for the common kinds of colour blindness (Okabe–Ito).
  var palette = [brand, "#e69f00", "#009e73", "#56b4e9", "#d55e00", "#cc79a7", "#0072b2", "#999999"];

  function percent(value) { return value === null ? "" : value.toLocaleString() + " %"; }

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) return;
    var spec = JSON.parse(source.textContent);
    var many = spec.labels.length > 40;
    new window.Chart(canvas, {
      type: spec.kind,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (set, i) {
          var colour = palette[i % palette.length];
          return {
            label: set.label,
            data: set.data,
            borderColor: colour,
            backgroundColor: spec.bar_colours && spec.bar_colours.length ? spec.bar_colours
              : spec.kind === "line" && spec.datasets.length === 1 ? "rgba(74, 63, 224, 0.08)" : colour,
            fill: spec.kind === "line" && spec.datasets.length === 1,
            pointRadius: many ? 0 : 2,
            tension: 0.2,
            spanGaps: true
          };
        })
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: spec.datasets.length > 1, position: "bottom" },
          tooltip: spec.percent ? { callbacks: { label: function (c) { return c.dataset.label + ": " + percent(c.parsed.y); } } } : {}
        },
        scales: {
          x: { stacked: spec.stacked, ticks: { maxTicksLimit: 10, autoSkip: true }, grid: { display: false } },
          y: {
            stacked: spec.stacked,
            beginAtZero: true,
            title: { display: !!spec.y_title, text: spec.y_title },
            ticks: spec.percent ? { callback: function (v) { return v + " %"; } } : { precision: 0 }
          }
        }
      }
    });
  });
})();
