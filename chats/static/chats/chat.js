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
      publication: (ctx) => ctx.data && ctx.data.message && renderMessage(ctx.data.message),
      subscribed: (ctx) => {
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
