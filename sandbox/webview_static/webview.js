// The sandbox's web view: the chat list, the open conversation (polled for what is new), and
// what a person does there. Drawing lives in webview_render.js.
import { avatar, clock, el, formatted, keyboard, media, typingLine } from "./webview_render.js";

const VIEW = "/_sandbox/view";
const POLL_MS = 1000;
const LIST_POLL_MS = 2500;
const MAX_SHOWN = 400; // messages kept in the page while following the tail
const ANSWER_WAIT_MS = 10000;

const state = {
  key: null, chat: null, newest: 0, oldest: null, since: null,
  replyTo: null, asUser: {}, timer: null, listTimer: null, listSeen: "", personasSeen: "",
  generation: 0,
};
const $ = (id) => document.getElementById(id);

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  let data = null;
  try { data = await response.json(); } catch (_) { /* an empty or non-JSON body */ }
  if (!response.ok || !data || !data.ok) {
    throw new Error((data && data.description) || `HTTP ${response.status}`);
  }
  return data;
}

function toast(text, kind) {
  const node = el("div", `toast ${kind || ""}`.trim(), text);
  if (kind === "alert") {
    const close = el("button", "link", "OK");
    close.type = "button";
    close.addEventListener("click", () => node.remove());
    node.append(close);
  } else {
    setTimeout(() => node.remove(), 4000);
  }
  $("toasts").append(node);
}

// ---- the left column -------------------------------------------------------------------------

function chatButton(entry) {
  const button = el("button", "chat-item");
  button.type = "button";
  button.dataset.key = entry.key;
  if (entry.key === state.key) button.classList.add("active");
  const last = entry.last;
  button.append(
    avatar(entry.title, entry.key),
    el("span", "chat-title", entry.title),
    el("span", "chat-time", last ? clock(last.date) : ""),
    el("span", "chat-preview", last ? `${last.from}: ${last.text}` : entry.subtitle || "no messages yet"),
  );
  button.addEventListener("click", () => openChat(entry.key));
  return button;
}

function section(title, children) {
  const box = el("section", "chat-section");
  box.append(el("h2", "section-title", title), ...children);
  return box;
}

function ownerBlock(name, tag, chats, extra) {
  const head = el("div", "owner");
  head.append(el("span", "", name));
  if (extra) head.append(extra);
  else if (tag) head.append(el("span", "tag", tag));
  const items = chats.length ? chats.map(chatButton) : [el("div", "none", "no chats yet")];
  return [head, ...items];
}

function renderList(data) {
  const groups = data.groups.map(chatButton);
  const accounts = data.accounts.flatMap((a) =>
    ownerBlock(`${a.account.name}${a.account.username ? " @" + a.account.username : ""}`,
      a.banned ? "banned" : "", a.chats));
  const bots = data.bots.flatMap((b) => {
    const start = el("button", "link", "+ new chat");
    start.type = "button";
    start.dataset.bot = b.bot.id;
    start.addEventListener("click", () => openNewChat(b.bot));
    return ownerBlock(`@${b.bot.username || b.bot.name}`, "", b.chats, start);
  });
  $("chat-list").replaceChildren(
    section("Groups", groups.length ? groups : [el("div", "none", "no groups yet")]),
    section("Account DMs", accounts.length ? accounts : [el("div", "none", "no accounts yet")]),
    section("Bots", bots.length ? bots : [el("div", "none", "no bots yet")]),
  );
}

async function refreshList() {
  clearTimeout(state.listTimer);
  try {
    const data = await api("GET", `${VIEW}/chats`);
    const seen = JSON.stringify([data.groups, data.accounts, data.bots, state.key]);
    if (seen !== state.listSeen) {
      state.listSeen = seen;
      renderList(data);
    }
  } catch (_) { /* the sandbox restarting: try again on the next tick */ }
  state.listTimer = setTimeout(refreshList, LIST_POLL_MS);
}

// ---- one message -----------------------------------------------------------------------------

function messageNode(message) {
  const me = currentPerson();
  const mine = me !== null && message.from.id === me;
  const item = el("li", mine ? "msg mine" : "msg");
  item.dataset.id = message.id;
  if (!mine) item.append(el("div", "msg-from", message.from.name + (message.from.is_bot ? " (bot)" : "")));
  if (message.reply_to) {
    const quote = el("div", "msg-quote");
    quote.append(el("span", "who", message.reply_to.from), el("span", "what", message.reply_to.text));
    quote.addEventListener("click", () => flash(message.reply_to.id));
    item.append(quote);
  }
  if (message.attachment) item.append(media(message.attachment));
  if (message.text || !message.attachment) item.append(formatted(message.text, message.entities));
  if (message.buttons && message.buttons.length) item.append(keyboard(message, press));
  const meta = el("div", "msg-meta");
  const reply = el("button", "link reply", "reply");
  reply.type = "button";
  reply.addEventListener("click", () => startReply(message));
  meta.append(reply);
  if (message.edited) meta.append(el("span", "edited", "edited"));
  meta.append(el("time", "", clock(message.date)));
  item.append(meta);
  return item;
}

function showTyping(people) {
  const line = typingLine(people || []);
  $("typing").textContent = line;
  $("typing").hidden = !line;
}

function flash(id) {
  const node = $("message-list").querySelector(`li[data-id="${Number(id)}"]`);
  if (!node) return;
  node.scrollIntoView({ block: "center" });
  node.classList.add("flash");
  setTimeout(() => node.classList.remove("flash"), 1200);
}

// ---- the open conversation -------------------------------------------------------------------

function currentPerson() {
  if (!state.chat) return null;
  if (state.chat.me) return state.chat.me.id;
  const chosen = $("as-user").value;
  return chosen ? Number(chosen) : null;
}

function nearBottom() {
  const box = $("messages");
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}

function toBottom() {
  const box = $("messages");
  box.scrollTop = box.scrollHeight;
}

function showHead(chat) {
  state.chat = chat;
  $("conv-head").hidden = false;
  $("conv-title").textContent = chat.title;
  $("conv-subtitle").textContent = chat.subtitle;
  const group = chat.kind === "group";
  $("as-label").hidden = !group;
  $("as-me").textContent = group ? "" : `as ${chat.me.name}`;
  if (group) fillPersonas(chat.personas || []);
}

function fillPersonas(people) {
  const select = $("as-user");
  const seen = JSON.stringify([state.key, people]);
  if (seen === state.personasSeen) return; // rebuilding would close the list someone has open
  state.personasSeen = seen;
  const options = people.map((p) => {
    const option = el("option", "", p.name + (p.username ? ` @${p.username}` : ""));
    option.value = String(p.id);
    return option;
  });
  const fresh = el("option", "", "a new person");
  fresh.value = "";
  select.replaceChildren(...options, fresh);
  // the person chosen before in this chat, else the first offered (an operator, if any)
  const wanted = state.asUser[state.key] ?? (options.length ? options[0].value : "");
  const known = [...select.options].some((o) => o.value === String(wanted));
  select.value = known ? String(wanted) : (options.length ? options[0].value : "");
}

function track(messages) {
  for (const m of messages) {
    state.newest = Math.max(state.newest, m.id);
    state.oldest = state.oldest === null ? m.id : Math.min(state.oldest, m.id);
  }
}

function replaceAll(data) {
  state.newest = 0;
  state.oldest = null;
  track(data.messages);
  $("message-list").replaceChildren(...data.messages.map(messageNode));
  $("older").hidden = !data.has_older;
  toBottom();
}

function append(messages) {
  if (!messages.length) return;
  const list = $("message-list");
  const follow = nearBottom();
  const fresh = messages.filter((m) => !list.querySelector(`li[data-id="${m.id}"]`));
  track(fresh);
  list.append(...fresh.map(messageNode));
  if (follow) { // someone reading older messages keeps them; a follower keeps the page light
    let trimmed = false;
    while (list.children.length > MAX_SHOWN) {
      list.firstElementChild.remove();
      trimmed = true;
    }
    if (trimmed) {
      state.oldest = Number(list.firstElementChild.dataset.id);
      $("older").hidden = false;
    }
    toBottom();
  }
}

function applyEdits(edited) {
  const list = $("message-list");
  for (const m of edited) {
    const old = list.querySelector(`li[data-id="${m.id}"]`);
    if (old) old.replaceWith(messageNode(m));
  }
}

async function openChat(key) {
  state.generation += 1;
  const generation = state.generation;
  clearTimeout(state.timer);
  if (state.key !== key) cancelReply();
  state.key = key;
  if (location.hash !== `#${key}`) history.replaceState(null, "", `#${key}`);
  for (const node of document.querySelectorAll(".chat-item")) {
    node.classList.toggle("active", node.dataset.key === key);
  }
  try {
    const data = await api("GET", `${VIEW}/chats/${encodeURIComponent(key)}/messages`);
    if (generation !== state.generation) return;
    $("empty").hidden = true;
    $("messages").hidden = false;
    $("composer").hidden = false;
    showHead(data.chat);
    replaceAll(data);
    showTyping(data.typing);
    state.since = data.now;
    $("text").focus();
  } catch (error) {
    toast(error.message, "failed");
    return;
  }
  state.timer = setTimeout(() => poll(generation), POLL_MS);
}

async function poll(generation) {
  if (generation !== state.generation) return;
  const query = new URLSearchParams({ after: state.newest, edited_since: state.since });
  try {
    const data = await api("GET", `${VIEW}/chats/${encodeURIComponent(state.key)}/messages?${query}`);
    if (generation !== state.generation) return;
    if (data.chat.kind === "group") fillPersonas(data.chat.personas || []);
    if (data.gap) replaceAll(data); else append(data.messages);
    applyEdits(data.edited);
    showTyping(data.typing);
    state.since = data.now;
  } catch (_) { /* the sandbox restarting: the next poll catches up */ }
  state.timer = setTimeout(() => poll(generation), POLL_MS);
}

async function showOlder() {
  if (state.oldest === null) return;
  const box = $("messages");
  const query = new URLSearchParams({ before: state.oldest });
  const data = await api("GET", `${VIEW}/chats/${encodeURIComponent(state.key)}/messages?${query}`);
  const height = box.scrollHeight;
  track(data.messages);
  $("message-list").prepend(...data.messages.map(messageNode));
  $("older").hidden = !data.has_older;
  box.scrollTop += box.scrollHeight - height; // keep the message that was on top where it was
}

// ---- writing, replying, pressing -------------------------------------------------------------

function startReply(message) {
  state.replyTo = message;
  $("replying").hidden = false;
  $("replying-who").textContent = message.from.name;
  $("replying-what").textContent = message.text.slice(0, 80);
  $("text").focus();
}

function cancelReply() {
  state.replyTo = null;
  $("replying").hidden = true;
}

function writer() {
  const asUser = state.chat && state.chat.kind === "group" ? $("as-user").value : "";
  return asUser ? { as_user: Number(asUser) } : {};
}

async function send(event) {
  event.preventDefault();
  const text = $("text").value;
  if (!text.trim() || !state.key) return;
  const body = { text, ...writer() };
  if (state.replyTo) body.reply_to = state.replyTo.id;
  $("send").disabled = true;
  try {
    const data = await api("POST", `${VIEW}/chats/${encodeURIComponent(state.key)}/messages`, body);
    $("text").value = "";
    cancelReply();
    if (state.chat.kind === "group" && !body.as_user) {
      state.asUser[state.key] = String(data.message.from.id); // keep playing the new person
    }
    append([data.message]);
    toBottom();
  } catch (error) {
    toast(error.message, "failed");
  } finally {
    $("send").disabled = false;
  }
}

async function waitForAnswer(url) {
  const deadline = Date.now() + ANSWER_WAIT_MS;
  while (Date.now() < deadline) {
    const data = await api("GET", url);
    if (data.answered) return data;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return null;
}

async function press(message, data, node) {
  node.disabled = true;
  try {
    const pressed = await api("POST", `${VIEW}/chats/${encodeURIComponent(state.key)}/press`,
      { message_id: message.id, data, ...writer() });
    const answer = await waitForAnswer(pressed.answer_url);
    if (answer === null) toast("The bot has not answered the button yet", "failed");
    else if (answer.text) toast(answer.text, answer.show_alert ? "alert" : "");
  } catch (error) {
    toast(error.message, "failed");
  } finally {
    node.disabled = false;
  }
}

// ---- a new chat with a bot -------------------------------------------------------------------

function openNewChat(bot) {
  const dialog = $("new-chat");
  dialog.dataset.bot = bot.id;
  $("new-chat-bot").textContent = `@${bot.username || bot.name}`;
  $("new-chat-error").hidden = true;
  dialog.showModal();
}

async function startNewChat(event) {
  event.preventDefault();
  const dialog = $("new-chat");
  const form = new FormData($("new-chat-form"));
  const body = { first_name: form.get("first_name"), text: form.get("text") };
  if (form.get("username")) body.username = form.get("username");
  try {
    const data = await api("POST", `${VIEW}/bots/${Number(dialog.dataset.bot)}/chats`, body);
    dialog.close();
    await openChat(data.key);
    refreshList();
  } catch (error) {
    $("new-chat-error").textContent = error.message;
    $("new-chat-error").hidden = false;
  }
}

// ---- start -----------------------------------------------------------------------------------

function start() {
  $("composer").addEventListener("submit", send);
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) send(event);
  });
  $("as-user").addEventListener("change", () => {
    state.asUser[state.key] = $("as-user").value;
    state.listSeen = "";
  });
  $("older").addEventListener("click", () => showOlder().catch((e) => toast(e.message, "failed")));
  $("replying-cancel").addEventListener("click", cancelReply);
  $("new-chat-form").addEventListener("submit", startNewChat);
  $("new-chat-cancel").addEventListener("click", () => $("new-chat").close());
  refreshList();
  const key = decodeURIComponent(location.hash.slice(1));
  if (key) openChat(key);
}

document.addEventListener("DOMContentLoaded", start);
