// The live statistics page: the snapshot from /api/stats/ on load, then every snapshot beat
// publishes to stats:live, plus a message_activity tick per new message between snapshots.
// The snapshot's keys are declared once, in metrics/contract.py (the /api/stats/ schema):
// metrics/tests/test_contract.py checks every `snapshot.<key>` / `data.<key>`, `chat.<key>` (a
// top chat) and `row.<key>` (a minute) read here, and each data-key of live.html, against it.
"use strict";

(function () {
  const { config, getJSON, subscribe } = window.Realtime;
  const values = document.querySelectorAll(".counter .value");
  const chart = document.getElementById("per-minute-chart");
  const topChats = document.getElementById("top-chats");
  const generatedAt = document.getElementById("generated-at");
  const MINUTES = 60;
  let snapshot = {};
  let perMinute = new Map(); // "YYYY-MM-DDTHH:MM" (UTC) -> count

  const minuteKey = (iso) => new Date(iso).toISOString().slice(0, 16);
  const number = (value) =>
    value === undefined || value === null ? "—" : Number(value).toLocaleString("en-US");

  function renderCounters() {
    for (const element of values) {
      const shown = number(snapshot[element.dataset.key]);
      if (element.textContent !== shown) {
        element.textContent = shown;
        element.classList.remove("changed");
        void element.offsetWidth; // restart the highlight animation
        element.classList.add("changed");
      }
    }
    generatedAt.textContent = snapshot.generated_at
      ? new Date(snapshot.generated_at).toLocaleTimeString()
      : "—";
    topChats.replaceChildren(
      ...(snapshot.top_chats || []).map((chat) => {
        const item = document.createElement("li");
        const title = chat.title || `chat ${chat.chat_id}`;
        item.textContent = `${title}: ${number(chat.messages)}`;
        return item;
      }),
    );
    if (!topChats.children.length) topChats.innerHTML = '<li class="muted">No messages yet</li>';
  }

  const SVG = "http://www.w3.org/2000/svg";
  function svg(name, attributes, text) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function renderChart() {
    const width = 720, height = 220, left = 36, bottom = 24, top = 10;
    const now = Date.now();
    const minutes = [];
    for (let i = MINUTES - 1; i >= 0; i--) {
      const key = new Date(now - i * 60000).toISOString().slice(0, 16);
      minutes.push([key, perMinute.get(key) || 0]);
    }
    const max = Math.max(1, ...minutes.map(([, count]) => count));
    const barWidth = (width - left) / MINUTES;
    const plotHeight = height - bottom - top;
    const parts = [
      svg("line", { x1: left, y1: top + plotHeight, x2: width, y2: top + plotHeight, class: "axis" }),
      svg("text", { x: left - 6, y: top + 8, class: "tick", "text-anchor": "end" }, max),
      svg("text", { x: left - 6, y: top + plotHeight, class: "tick", "text-anchor": "end" }, 0),
      svg("text", { x: left, y: height - 6, class: "tick" }, `${MINUTES} min ago`),
      svg("text", { x: width, y: height - 6, class: "tick", "text-anchor": "end" }, "now"),
    ];
    minutes.forEach(([key, count], i) => {
      const barHeight = (count / max) * plotHeight;
      const bar = svg("rect", {
        x: left + i * barWidth + 1,
        y: top + plotHeight - barHeight,
        width: Math.max(1, barWidth - 2),
        height: barHeight,
        class: "bar",
        "data-minute": key,
        "data-count": count,
      });
      bar.appendChild(svg("title", {}, `${key.slice(11)} UTC: ${count}`));
      parts.push(bar);
    });
    chart.replaceChildren(...parts);
  }

  function applySnapshot(data) {
    snapshot = { ...data };
    perMinute = new Map(
      (snapshot.messages_per_minute || []).map((row) => [minuteKey(row.minute), row.messages]),
    );
    renderCounters();
    renderChart();
  }

  function applyActivity(event) {
    // Between snapshots: count the new message now; the next snapshot corrects any drift.
    const key = minuteKey(event.created_at);
    perMinute.set(key, (perMinute.get(key) || 0) + 1);
    if (typeof snapshot.messages_last_hour === "number") snapshot.messages_last_hour += 1;
    if (typeof snapshot.messages_total === "number") snapshot.messages_total += 1;
    renderCounters();
    renderChart();
  }

  subscribe(config.statsChannel, {
    subscribed: () => {
      document.body.dataset.subscribedStats = "yes";
    },
    publication: (ctx) => {
      if (ctx.data && ctx.data.type === "message_activity") applyActivity(ctx.data);
      else if (ctx.data && ctx.data.generated_at) applySnapshot(ctx.data);
    },
  });

  getJSON(config.statsUrl)
    .then((data) => {
      // A snapshot that arrived over the WebSocket meanwhile is newer: keep it.
      if (!snapshot.generated_at || data.generated_at > snapshot.generated_at) applySnapshot(data);
    })
    .catch((error) => console.warn("no initial snapshot:", error));
  renderChart();
  setInterval(renderChart, 15000); // slide the window even when nothing happens
})();
