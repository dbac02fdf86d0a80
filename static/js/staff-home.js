// Staff home: each figure's last 30 days as a small chart, from the same values as the page's "Day by day"
// table (the charts' text alternative). Without JavaScript the charts stay hidden and the page reads the same.
(function () {
  "use strict";
  if (typeof window.Chart === "undefined") return;

  var styles = getComputedStyle(document.documentElement);
  var brand = styles.getPropertyValue("--brand-600").trim() || "#4a3fe0";
  var muted = styles.getPropertyValue("--brand-200").trim() || "#cbc7ff";
  var wash = "rgba(91, 80, 240, 0.10)";
  var format = new Intl.NumberFormat("en");

  document.querySelectorAll("[data-chart-box]").forEach(function (box) {
    var canvas = box.querySelector("canvas");
    var values = canvas.getAttribute("data-values").split(",").map(Number);
    var labels = box.closest("[data-labels]").getAttribute("data-labels").split(",");
    var line = canvas.getAttribute("data-chart") === "line";
    var last = values.length - 1;
    box.hidden = false;
    new window.Chart(canvas, {
      type: line ? "line" : "bar",
      data: {
        labels: labels,
        datasets: [{
          data: values,
          // today stands out from the days before it
          backgroundColor: line ? wash : values.map(function (_, i) { return i === last ? brand : muted; }),
          borderColor: brand,
          borderWidth: line ? 2 : 0,
          borderRadius: 2,
          fill: line,
          tension: 0.3,
          pointRadius: line ? values.map(function (_, i) { return i === last ? 3 : 0; }) : 0,
          pointBackgroundColor: brand,
          categoryPercentage: 0.9,
          barPercentage: 0.85
        }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        layout: { padding: { top: 4 } },
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { display: false },
          tooltip: {
            displayColors: false,
            callbacks: { label: function (item) { return format.format(item.parsed.y); } }
          }
        },
        scales: { x: { display: false }, y: { display: false, beginAtZero: !line, grace: line ? "10%" : 0 } }
      }
    });
  });
})();
