// The KPI dashboard's charts (Chart.js, served from our own static files). The figures come
// from the page's json_script block; a click on a department's bar opens the list behind it.
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var labels = data.labels;
  var brand = "#0f766e", accent = "#b45309", muted = "#9aa5b1";

  function target(metric, count) {
    var value = data.targets[metric];
    if (value === undefined || value === null) return null;
    return {
      label: labels.target, data: new Array(count).fill(value), borderColor: muted,
      borderDash: [6, 4], pointRadius: 0, fill: false,
    };
  }

  function percentAxis() {
    return { min: 0, max: 100, ticks: { callback: function (v) { return v + " %"; } } };
  }

  function trend(canvasId, metric, color) {
    var datasets = [{
      label: labels[metric], data: data.trends[metric], borderColor: color,
      backgroundColor: color, spanGaps: true, tension: 0.2,
    }];
    var line = target(metric, data.months.length);
    if (line) datasets.push(line);
    new Chart(document.getElementById(canvasId), {
      type: "line",
      data: { labels: data.months, datasets: datasets },
      options: { scales: { y: percentAxis() }, maintainAspectRatio: false },
    });
  }

  trend("chart-follow-up", "follow_up_rate", brand);
  trend("chart-satisfaction", "satisfaction_rate", accent);

  var complaintSets = [
    {
      type: "bar", label: labels.complaints_received, data: data.trends.complaints_received,
      backgroundColor: "#c62828", yAxisID: "count",
    },
    {
      type: "line", label: labels.complaints_on_time_rate,
      data: data.trends.complaints_on_time_rate, borderColor: brand, backgroundColor: brand,
      spanGaps: true, yAxisID: "rate",
    },
  ];
  new Chart(document.getElementById("chart-complaints"), {
    data: { labels: data.months, datasets: complaintSets },
    options: {
      maintainAspectRatio: false,
      scales: {
        count: { position: "left", beginAtZero: true, ticks: { precision: 0 } },
        rate: Object.assign(percentAxis(), { position: "right", grid: { drawOnChartArea: false } }),
      },
    },
  });

  var departments = data.departments;
  new Chart(document.getElementById("chart-departments"), {
    type: "bar",
    data: {
      labels: departments.names,
      datasets: [
        { label: labels.follow_up_rate, data: departments.follow_up_rate, backgroundColor: brand },
        { label: labels.satisfaction_rate, data: departments.satisfaction_rate, backgroundColor: accent },
      ],
    },
    options: {
      indexAxis: "y",
      maintainAspectRatio: false,
      scales: { x: percentAxis() },
      onClick: function (_event, elements) {
        if (!elements.length) return;
        var hit = elements[0];
        var params = new URLSearchParams({
          figure: hit.datasetIndex === 0 ? "not_followed_up" : "responses",
          month: data.month,
          department: departments.pks[hit.index],
        });
        window.location.href = data.list_url + "?" + params.toString();
      },
    },
  });
})();
