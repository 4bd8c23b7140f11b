// Drawing the world's texts: every one goes into the page as a text node (textContent /
// append(string)), never parsed as HTML: message texts are hostile.

const BLOCKS = new Set(["pre", "blockquote", "expandable_blockquote"]);
export const SAFE_URL = /^(https?:\/\/|tg:\/\/|mailto:)/i;

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function clock(seconds) {
  const when = new Date(seconds * 1000);
  const today = new Date();
  const time = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (when.toDateString() === today.toDateString()) return time;
  return `${when.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}`;
}

export function avatar(title, seed) {
  const palette = ["#e17076", "#7bc862", "#e5ca77", "#65aadd", "#a695e7", "#ee7aae", "#6ec9cb", "#faa774"];
  let hash = 0;
  for (const ch of String(seed)) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  const node = el("span", "avatar", (title.trim()[0] || "?").toUpperCase());
  node.style.background = palette[hash % palette.length];
  return node;
}

function entityNode(entity, text) {
  switch (entity.type) {
    case "bold": return el("strong");
    case "italic": return el("em");
    case "underline": return el("u");
    case "strikethrough": return el("s");
    case "code": return el("code");
    case "pre": return el("pre");
    case "blockquote": case "expandable_blockquote": return el("blockquote");
    case "spoiler": {
      const node = el("span", "spoiler");
      node.title = "spoiler: click to show";
      node.addEventListener("click", () => node.classList.toggle("shown"));
      return node;
    }
    case "text_link": case "url": case "email": {
      const target = entity.type === "email" ? `mailto:${text}` : (entity.url || text);
      if (!SAFE_URL.test(target) && !/^[\w.-]+\.[a-z]{2,}/i.test(target)) return el("span");
      const link = el("a");
      link.href = SAFE_URL.test(target) ? target : `https://${target}`;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      return link;
    }
    default: return el("span", `entity-${String(entity.type).replace(/[^a-z_]/g, "")}`);
  }
}

// Entities are UTF-16 ranges (JS strings index the same way); nested ones render inside their
// parent, and one that crosses its parent's end is clipped to it.
function renderRange(container, text, start, end, entities) {
  let pos = start;
  let i = 0;
  while (i < entities.length) {
    const entity = entities[i];
    const from = Math.max(entity.offset, pos);
    const to = Math.min(entity.offset + entity.length, end);
    let j = i + 1;
    while (j < entities.length && entities[j].offset < to) j++;
    if (to > from) {
      if (from > pos) container.append(text.slice(pos, from));
      const node = entityNode(entity, text.slice(from, to));
      renderRange(node, text, from, to, entities.slice(i + 1, j));
      container.append(node);
      pos = to;
      // a quote or code block already ends its line, as in Telegram's apps
      if (BLOCKS.has(entity.type) && text[pos] === "\n" && pos < end) pos += 1;
    }
    i = to > from ? j : i + 1;
  }
  if (pos < end) container.append(text.slice(pos, end));
}

export function formatted(text, entities) {
  const box = el("div", "msg-text");
  const sorted = (entities || []).filter((e) => e.length > 0)
    .sort((a, b) => a.offset - b.offset || b.length - a.length);
  renderRange(box, text, 0, text.length, sorted);
  return box;
}

// A photo or sticker is never loaded (the page's CSP allows no other origin, and a file name
// means nothing to the browser): a placeholder names the file, like a photo still downloading.
export function media(attachment) {
  const sticker = attachment.kind === "sticker";
  const box = el("div", sticker ? "msg-media sticker" : "msg-media photo");
  box.title = attachment.name;
  box.append(
    el("span", "media-icon", sticker ? "☺" : "▣"),
    el("span", "media-kind", sticker ? "Sticker" : "Photo"),
    el("span", "media-name", attachment.name),
  );
  return box;
}

export function typingLine(people) {
  if (!people.length) return "";
  if (people.length === 1) return `${people[0].name} is typing…`;
  if (people.length === 2) return `${people[0].name} and ${people[1].name} are typing…`;
  return `${people.length} people are typing…`;
}

export function keyboard(message, onPress) {
  const box = el("div", "keyboard");
  for (const row of message.buttons) {
    const line = el("div", "keyboard-row");
    for (const button of row) {
      let node;
      if (button.url && SAFE_URL.test(button.url)) {
        node = el("a", "kb-button", button.text);
        node.href = button.url;
        node.target = "_blank";
        node.rel = "noopener noreferrer";
      } else {
        node = el("button", "kb-button", button.text);
        node.type = "button";
        if (button.callback_data) {
          node.addEventListener("click", () => onPress(message, button.callback_data, node));
        } else {
          node.disabled = true;
        }
      }
      line.append(node);
    }
    box.append(line);
  }
  return box;
}
