// Shared by the live statistics and chat pages: one Centrifugo connection per page, tokens from
// Django through centrifuge-js's getToken callbacks (called again whenever a token expires).
"use strict";

window.Realtime = (function () {
  const config = JSON.parse(document.getElementById("realtime-config").textContent);

  async function getJSON(url) {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (response.status === 401 || response.status === 403) {
      // Tells centrifuge-js to stop retrying: the user is logged out or not allowed.
      throw new Centrifuge.UnauthorizedError(`${url}: ${response.status}`);
    }
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    return response.json();
  }

  function cookie(name) {
    const match = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function sendJSON(method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": cookie("csrftoken"),
      },
      body: JSON.stringify(body),
    });
    const data = response.status === 204 ? null : await response.json();
    if (!response.ok) {
      const error = new Error(Object.values(data || {}).flat().join(" ") || response.statusText);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  const stateBadge = document.getElementById("connection-state");
  const client = new Centrifuge(config.wsUrl, {
    getToken: async () => (await getJSON(config.tokenUrl)).token,
  });
  client.on("state", (ctx) => {
    stateBadge.textContent = ctx.newState === "connected" ? "live" : ctx.newState;
    stateBadge.className = `state state-${ctx.newState}`;
    document.body.dataset.realtime = ctx.newState;
  });
  client.on("error", (ctx) => console.warn("centrifugo:", ctx.type, ctx.error && ctx.error.message));
  client.on("disconnected", (ctx) => console.warn("centrifugo disconnected:", ctx.code, ctx.reason));

  function subscribe(channel, handlers) {
    const url = `${config.subscriptionTokenUrl}?channel=${encodeURIComponent(channel)}`;
    const subscription = client.newSubscription(channel, {
      getToken: async () => (await getJSON(url)).token,
    });
    for (const [event, handler] of Object.entries(handlers)) subscription.on(event, handler);
    subscription.subscribe();
    return subscription;
  }

  client.connect();
  return { config, client, getJSON, sendJSON, subscribe };
})();
