// The chat demo: pick a chat, read its messages from the API, then follow chat:<id> live and
// send through the API. Events are applied by message id, so a repeat changes nothing.
"use strict";

(function () {
  const { config, getJSON, sendJSON, subscribe, client } = window.Realtime;
  const select = document.getElementById("chat-select");
  const list = document.getElementById("messages");
  const title = document.getElementById("chat-title");
  const form = document.getElementById("send-form");
  const input = document.getElementById("message-text");
  const button = document.getElementById("send-button");
  const sendError = document.getElementById("send-error");
  let current = null; // {chat, subscription}
  const liveLag = measureLiveLag(document.querySelector(".chat-window").dataset);
  // Events can arrive out of order (several workers, a sweeper re-queue after an outage): a deleted
  // message never comes back, and an older version never overwrites a newer one.
  const deleted = new Set();
  const version = (message) => Date.parse(message.edited_at || message.created_at);

  function renderMessage(message) {
    let item = list.querySelector(`[data-message-id="${message.id}"]`);
    if (message.deleted || deleted.has(message.id)) {
      deleted.add(message.id);
      if (item) item.remove();
      return;
    }
    if (item && Number(item.dataset.version) > version(message)) return;
    if (!item) {
      item = document.createElement("li");
      item.dataset.messageId = message.id;
      item.innerHTML = '<span class="author"></span> <span class="text"></span> <time></time>';
      // Keep the list in id order (ids grow with time), newest at the bottom.
      const later = [...list.children].find((li) => Number(li.dataset.messageId) > message.id);
      list.insertBefore(item, later || null);
    }
    item.dataset.version = version(message);
    item.classList.toggle("mine", message.author_id === config.user.id);
    item.querySelector(".author").textContent = message.author || "deleted user";
    item.querySelector(".text").textContent = message.text;
    const when = new Date(message.edited_at || message.created_at);
    item.querySelector("time").textContent =
      when.toLocaleTimeString() + (message.edited_at ? " (edited)" : "");
    list.scrollTop = list.scrollHeight;
  }

  async function loadHistory(chatId) {
    const page = await getJSON(`${config.chatsUrl}${chatId}/messages/?page_size=50`);
    list.replaceChildren();
    for (const message of page.results.reverse()) renderMessage(message);
  }

  async function open(chat) {
    if (current) {
      current.subscription.unsubscribe();
      client.removeSubscription(current.subscription);
    }
    title.textContent = chat.title;
    // Subscribe first, then read: whatever is posted in between arrives as an event.
    const subscription = subscribe(`chat:${chat.id}`, {
      publication: (ctx) => {
        liveLag.arrived(ctx); // first: the time it reached the page, not the time drawn
        if (ctx.data && ctx.data.message) renderMessage(ctx.data.message);
      },
      subscribed: (ctx) => {
        liveLag.replaying(); // what recovery hands over now was published while away
        document.body.dataset.subscribedChat = chat.id;
        // Recovery failed (history expired, Centrifugo restarted): read the chat again.
        if (ctx.wasRecovering && !ctx.recovered) loadHistory(chat.id);
      },
    });
    current = { chat, subscription };
    await loadHistory(chat.id);
    input.disabled = button.disabled = false;
    input.focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || !current) return;
    button.disabled = true;
    sendError.hidden = true;
    try {
      const message = await sendJSON("POST", `${config.chatsUrl}${current.chat.id}/messages/`, {
        text,
      });
      renderMessage(message); // the live event for it will find it already there
      input.value = "";
    } catch (error) {
      sendError.textContent = `Not sent: ${error.message}`;
      sendError.hidden = false;
    } finally {
      button.disabled = false;
      input.focus();
    }
  });

  // Every list of the API comes in pages: follow `next` to the last one. By its path and query
  // only, so the page's own origin answers, whatever host or scheme a proxy made the link with.
  async function getAll(url) {
    const results = [];
    while (url) {
      const page = await getJSON(url);
      results.push(...page.results);
      const next = page.next && new URL(page.next, location.href);
      url = next && next.pathname + next.search;
    }
    return results;
  }

  // Invitations: an add the user's setting did not allow waits here for an answer. Titles and
  // names go in as text, never as HTML.
  const invitations = document.getElementById("invitations");
  const invitationList = document.getElementById("invitation-list");

  function renderInvitation(invitation, chats) {
    const item = document.createElement("li");
    item.dataset.invitationId = invitation.id;
    item.innerHTML =
      '<span class="what"></span> <button data-answer="accept">Accept</button> ' +
      '<button data-answer="decline">Decline</button> <span class="error"></span>';
    item.querySelector(".what").textContent =
      `${invitation.invited_by || "Someone"} invited you to “${invitation.chat_title}” ` +
      `as ${invitation.role}`;
    item.addEventListener("click", async (event) => {
      const answer = event.target.dataset.answer;
      if (!answer) return;
      try {
        await sendJSON("POST", `${config.invitationsUrl}${invitation.id}/${answer}/`, {});
        item.remove();
        invitations.hidden = invitationList.children.length === 0;
        if (answer === "accept") {
          const chat = { id: invitation.chat_id, title: invitation.chat_title };
          chats.push(chat);
          select.add(new Option(chat.title, chat.id));
          document.getElementById("no-chats").hidden = true;
          select.value = String(chat.id);
          open(chat);
        }
      } catch (error) {
        item.querySelector(".error").textContent = error.message;
      }
    });
    invitationList.append(item);
  }

  // What readers see: for a sample of live messages (the server's LIVE_LAG_SAMPLE_RATE), the time
  // from the server's publish (`tags.sent_at`, epoch ms) to the message's arrival here, on the
  // server's clock: offset = server_ms - (t0 + t1) / 2 of the clock round trip with the smallest
  // RTT, measured again on each (re)connect. Values go to the server in batches of at most
  // LIVE_LAG_BATCH, one POST per FLUSH_MS at most while messages arrive (a burst keeps a uniform
  // sample of its values, not its first ones), and what is left on leaving by sendBeacon.
  // observability/browser_lag.py observes them into chatplatform_live_browser_lag_seconds.
  function measureLiveLag(urls) {
    const FLUSH_MS = 10000;
    const CLOCK_TRIES = 3;
    const MIN_MS = -1000; // the server counts -1000..0 (the offset's error) as 0; below: a bad clock
    const MAX_MS = 600000; // a frozen tab's backlog: not delivery, and the server refuses it
    let offset = null; // server clock minus this browser's, in ms; null: not measured yet
    let policy = { sample_rate: 0, batch: 0 };
    let values = []; // the batch being filled
    let seen = 0; // values offered to it since the last flush
    let timer = null;
    let replay = false;
    const early = []; // [arrival, sentAt] received before the first offset

    function keep(arrival, sentAt) {
      if (Math.random() >= policy.sample_rate) return;
      const lag = arrival + offset - sentAt;
      if (!(lag >= MIN_MS && lag <= MAX_MS)) return;
      seen += 1;
      if (values.length < policy.batch) values.push(Math.round(lag));
      else {
        const slot = Math.floor(Math.random() * seen); // reservoir: each value equally likely
        if (slot < policy.batch) values[slot] = Math.round(lag);
      }
      if (timer === null) timer = setTimeout(flush, FLUSH_MS);
    }

    function take() {
      clearTimeout(timer);
      timer = null;
      const batch = values;
      values = [];
      seen = 0;
      return batch;
    }

    function flush() {
      const batch = take();
      if (batch.length === 0) return;
      sendJSON("POST", urls.lagReportUrl, { lags_ms: batch }).catch((error) =>
        console.warn("live lag report not taken:", error.status || "", error.message),
      );
    }

    async function measureClock() {
      let best = null;
      for (let i = 0; i < CLOCK_TRIES; i++) {
        const t0 = Date.now();
        const answer = await getJSON(urls.lagClockUrl);
        const t1 = Date.now();
        if (best === null || t1 - t0 < best.rtt) {
          best = { rtt: t1 - t0, offset: answer.now_ms - (t0 + t1) / 2, answer };
        }
        if (!(answer.sample_rate > 0)) break; // measuring is off: one answer says so
      }
      policy = { sample_rate: best.answer.sample_rate, batch: best.answer.batch };
      offset = best.offset;
      document.body.dataset.clockOffset = String(Math.round(offset));
      for (const [arrival, sentAt] of early.splice(0)) keep(arrival, sentAt);
    }

    const measure = () =>
      measureClock().catch((error) => console.warn("clock not measured:", error.message));
    client.on("connected", measure);
    if (client.state === "connected") measure(); // connected before this script ran
    // Leaving (closing, navigating, the tab discarded later): what is left goes by beacon, which
    // cannot set headers, so as a form with the CSRF token in its field, as Django's forms do.
    addEventListener("pagehide", () => {
      const batch = take();
      if (batch.length === 0) return;
      const form = new URLSearchParams(batch.map((lag) => ["lags_ms", String(lag)]));
      const csrf = document.cookie.match(/(?:^|; )csrftoken=([^;]*)/);
      form.append("csrfmiddlewaretoken", csrf ? decodeURIComponent(csrf[1]) : "");
      navigator.sendBeacon(urls.lagReportUrl, form);
    });

    return {
      arrived(ctx) {
        const sentAt = Number(ctx.tags && ctx.tags.sent_at);
        if (replay || !ctx.tags || !ctx.tags.sent_at || !Number.isFinite(sentAt)) return;
        const arrival = Date.now();
        if (offset !== null) keep(arrival, sentAt);
        else if (early.length < 100) early.push([arrival, sentAt]);
      },
      // Recovered publications come synchronously right after "subscribed": not live arrivals.
      replaying() {
        replay = true;
        queueMicrotask(() => (replay = false));
      },
    };
  }

  getAll(config.chatsUrl).then((chats) => {
    document.getElementById("no-chats").hidden = chats.length > 0;
    for (const chat of chats) select.add(new Option(chat.title, chat.id));
    select.addEventListener("change", () => {
      const chat = chats.find((c) => String(c.id) === select.value);
      if (chat) open(chat);
    });
    const wanted = new URLSearchParams(location.search).get("chat");
    const first = chats.find((c) => String(c.id) === wanted) || chats[0];
    if (first) {
      select.value = String(first.id);
      open(first);
    }
    getAll(config.invitationsUrl).then((pending) => {
      for (const invitation of pending) renderInvitation(invitation, chats);
      invitations.hidden = pending.length === 0;
    });
  });
})();
