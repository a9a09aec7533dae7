// Draws the panels of one dashboard (monitoring/views.py) with uPlot: each panel fetches its own
// series from the app (never PromQL from here), every refreshSeconds and when the range changes.
// Each panel element says what it drew: data-state (loading, drawn, nodata, error), data-series
// (how many series), data-points and data-distinct (per series: values, distinct values).
// A latency panel with trace links (Grafana's data link and panel link, panels.with_trace_links)
// opens the slowest traces around a clicked point, and links its range's slowest traces.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("dashboard-config").textContent);
  const PALETTE = ["#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9",
    "#705da0", "#508642", "#cca300", "#447ebc", "#c15c17"];
  const charts = new Map();
  let range = config.range;

  function trim(n, digits) {
    return Number(n.toFixed(digits)).toLocaleString("en", { maximumFractionDigits: digits });
  }
  function plain(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return trim(v / 1e9, 2) + " B";
    if (a >= 1e6) return trim(v / 1e6, 2) + " M";
    if (a >= 1e4) return trim(v / 1e3, 1) + " K";
    return trim(v, a < 1 && a > 0 ? 3 : 2);
  }
  function seconds(v) {
    const a = Math.abs(v);
    if (a === 0) return "0 s";
    if (a < 1e-3) return trim(v * 1e6, 0) + " µs";
    if (a < 1) return trim(v * 1e3, 1) + " ms";
    if (a < 60) return trim(v, 2) + " s";
    if (a < 3600) return trim(v / 60, 1) + " min";
    if (a < 86400) return trim(v / 3600, 1) + " hour";
    return trim(v / 86400, 1) + " day";
  }
  // Grafana's units as the dashboards use them.
  function format(unit, v) {
    if (v === null || v === undefined) return "—";
    switch (unit) {
      case "s": return seconds(v);
      case "ms": return seconds(v / 1000);
      case "percentunit": return trim(v * 100, 1) + "%";
      case "percent": return trim(v, 1) + "%";
      case "ops": return plain(v) + " ops/s";
      case "reqps": return plain(v) + " req/s";
      case "none": case "short": case "": case undefined: return plain(v);
      default: return plain(v) + " " + unit;
    }
  }
  function thresholdColor(panel, v) {
    let color = PALETTE[5];
    for (const step of panel.thresholds) {
      if (step.value === null || (v !== null && v >= step.value)) color = step.color;
    }
    return color;
  }
  function lastValue(values) {
    for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
    return null;
  }
  function describe(el, data) {
    const counts = data.series.map((s) => s.values.filter((v) => v !== null).length);
    const distinct = data.series.map((s) => new Set(s.values.filter((v) => v !== null)).size);
    el.dataset.series = String(data.series.length);
    el.dataset.points = counts.join(",");
    el.dataset.distinct = distinct.join(",");
    return counts.some((n) => n > 0);
  }
  // Grafana's link variables as the in-app page knows them: the app is this origin (app_url ""),
  // a point's time and the range's ends in epoch ms.
  function traceUrl(template, vars) {
    return template.replace(/\$\{([\w.]+)\}/g, (all, name) =>
      name in vars ? String(vars[name]) : all);
  }
  function linkVars(data, idx) {
    const vars = { app_url: "", __from: data.times[0] * 1000, __to: data.times[data.times.length - 1] * 1000 };
    if (idx !== null && idx !== undefined) vars["__value.time"] = data.times[idx] * 1000;
    return vars;
  }
  // A clicked point's link: its quantile summarises the rate window before it, at least the five
  // minutes /traces/ takes by default, longer when the step is (a week's range).
  function pointUrl(panel, data, idx) {
    const url = traceUrl(panel.pointLinks[0], linkVars(data, idx));
    return data.step * 2 > 300 ? `${url}&window=${data.step * 2}` : url;
  }
  window.dashboardTraceLink = (panelId, idx) => {
    const panel = config.panels[panelId];
    const data = lastData.get(Number(panelId));
    return panel && data && panel.pointLinks.length ? pointUrl(panel, data, idx) : null;
  };
  function rangeLink(el, panel, data) {
    if (!panel.rangeLinks.length) return;
    let a = el.querySelector("a.trace-link");
    if (!a) {
      a = document.createElement("a");
      a.className = "trace-link";
      a.textContent = "slowest traces";
      a.title = "Slowest traces of this time range (click a point for those around it)";
      el.querySelector("h3").after(a);  // beside the title, not in it (tests read the title)
    }
    a.href = traceUrl(panel.rangeLinks[0], linkVars(data, null));
  }
  const lastData = new Map();

  function forget(id) {
    const chart = charts.get(id);
    if (chart) chart.destroy();
    charts.delete(id);
  }

  function timeseries(el, panel, data) {
    const body = el.querySelector(".dash-body");
    const height = Math.max(120, panel.height * 30 - 110);
    const opts = {
      width: body.clientWidth || 400,
      height: height,
      series: [{}].concat(data.series.map((s, i) => ({
        label: s.name,
        stroke: PALETTE[i % PALETTE.length],
        width: 1.5,
        spanGaps: false,
        value: (u, v) => format(panel.unit, v),
      }))),
      axes: [{}, { values: (u, ticks) => ticks.map((v) => format(panel.unit, v)), size: 84 }],
      scales: { y: { range: (u, lo, hi) => [panel.min !== null ? Math.min(panel.min, lo) : lo, hi > lo ? hi : lo + 1] } },
      legend: { show: true },
    };
    forget(panel.id);
    body.replaceChildren();
    const chart = new uPlot(opts, [data.times].concat(data.series.map((s) => s.values)), body);
    charts.set(panel.id, chart);
    if (panel.pointLinks.length) {
      chart.over.style.cursor = "pointer";
      chart.over.title = "Click: the slowest traces around this point";
      chart.over.addEventListener("click", () => {
        if (chart.cursor.idx === null || chart.cursor.idx === undefined) return;
        window.location.assign(pointUrl(panel, lastData.get(panel.id), chart.cursor.idx));
      });
    }
  }

  function stat(el, panel, data) {
    const body = el.querySelector(".dash-body");
    const values = data.series[0].values;
    const last = lastValue(values);
    body.style.background = thresholdColor(panel, last);
    const value = document.createElement("div");
    value.className = "stat-value";
    value.textContent = format(panel.unit, last);
    const spark = document.createElement("div");
    forget(panel.id);
    body.replaceChildren(value, spark);
    const opts = {
      width: body.clientWidth || 200,
      height: 50,
      legend: { show: false },
      cursor: { show: false },
      axes: [{ show: false }, { show: false }],
      scales: { x: { time: false } },
      series: [{}, { stroke: "rgba(255,255,255,.9)", fill: "rgba(255,255,255,.25)", width: 1.5 }],
    };
    charts.set(panel.id, new uPlot(opts, [data.times, values], spark));
  }

  function bargauge(el, panel, data) {
    const body = el.querySelector(".dash-body");
    const rows = data.series.map((s) => ({ name: s.name, value: lastValue(s.values) }))
      .filter((r) => r.value !== null).sort((a, b) => b.value - a.value);
    const top = Math.max(...rows.map((r) => r.value), 0) || 1;
    forget(panel.id);
    body.replaceChildren(...rows.map((r) => {
      const row = document.createElement("div");
      row.className = "bar-row";
      const name = document.createElement("span");
      name.className = "bar-name";
      name.textContent = name.title = r.name;
      const track = document.createElement("div");
      track.className = "bar-track";
      const fill = document.createElement("div");
      fill.className = "bar-fill";
      fill.style.width = `${Math.max(0, (r.value / top) * 100)}%`;
      track.appendChild(fill);
      const value = document.createElement("span");
      value.textContent = format(panel.unit, r.value);
      row.append(name, track, value);
      return row;
    }));
  }

  const DRAW = { timeseries: timeseries, stat: stat, bargauge: bargauge };

  async function load(el) {
    const panel = config.panels[el.dataset.panelId];
    const message = el.querySelector(".dash-message");
    let data;
    try {
      // The step is the server's (about MAX_POINTS points per range, views._time_grid).
      const response = await fetch(`${config.dataUrl}${panel.id}/?range=${config.ranges[range]}`,
        { headers: { Accept: "application/json" }, credentials: "same-origin" });
      data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
      if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
    } catch (error) {
      forget(panel.id);
      el.querySelector(".dash-body").replaceChildren();
      el.dataset.state = "error";
      el.dataset.series = "0";
      message.textContent = error.message;
      return;
    }
    if (!describe(el, data)) {
      forget(panel.id);
      el.dataset.state = "nodata";
      message.textContent = "No data";
      return;
    }
    message.textContent = "";
    lastData.set(panel.id, data);
    DRAW[panel.type](el, panel, data);
    rangeLink(el, panel, data);
    el.dataset.state = "drawn";
  }

  const panels = Array.from(document.querySelectorAll(".dash-panel"));
  async function refresh() {
    await Promise.all(panels.map(load));
    document.getElementById("refreshed-at").textContent = new Date().toLocaleTimeString();
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  }
  document.getElementById("range-picker").addEventListener("change", (event) => {
    range = event.target.value;
    const url = new URL(window.location.href);
    url.searchParams.set("range", range);
    window.history.replaceState(null, "", url);
    refresh();
  });
  window.addEventListener("resize", () => {
    for (const [id, chart] of charts) {
      const el = document.querySelector(`.dash-panel[data-panel-id="${id}"] .dash-body`);
      if (el && config.panels[id].type === "timeseries") chart.setSize({ width: el.clientWidth, height: chart.height });
    }
  });
  refresh();
  setInterval(refresh, config.refreshSeconds * 1000);
})();
