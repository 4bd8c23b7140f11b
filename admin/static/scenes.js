// The scene editor: line numbers that follow the text, error markers on their lines (from the
// errors fragment the server sends as you type), and a click on an error jumps to its place.
const editor = () => document.querySelector("[data-testid=scene-editor]");

function numberLines() {
  const box = editor();
  if (!box) return;
  const text = box.querySelector("textarea");
  const gutter = box.querySelector(".scene-gutter");
  const marked = errorLines();
  const count = text.value.split("\n").length;
  const lines = [];
  for (let n = 1; n <= count; n += 1) {
    const line = document.createElement("div");
    line.dataset.gutterLine = String(n);
    line.textContent = String(n);
    if (marked.has(n)) {
      line.className = "has-error";
      line.title = marked.get(n);
    }
    lines.push(line);
  }
  gutter.replaceChildren(...lines);
  gutter.scrollTop = text.scrollTop;
}

function errorLines() {
  const marked = new Map();
  document.querySelectorAll("#scene-errors [data-line]").forEach((item) => {
    const line = Number(item.dataset.line);
    const said = item.textContent.replace(/^[^:]*:\s*/, "");
    marked.set(line, marked.has(line) ? `${marked.get(line)}\n${said}` : said);
  });
  return marked;
}

function jumpTo(line, column) {
  const text = editor()?.querySelector("textarea");
  if (!text) return;
  const rows = text.value.split("\n");
  let offset = 0;
  for (let n = 0; n < Math.min(line - 1, rows.length); n += 1) offset += rows[n].length + 1;
  offset += Math.max(0, Math.min(column - 1, (rows[line - 1] || "").length));
  text.focus();
  text.setSelectionRange(offset, offset);
  const height = parseFloat(getComputedStyle(text).lineHeight) || 20;
  text.scrollTop = Math.max(0, (line - 3) * height);
}

document.addEventListener("input", (event) => {
  if (event.target.matches("[data-testid=scene-editor] textarea")) numberLines();
});
document.addEventListener("scroll", (event) => {
  if (!event.target.matches?.("[data-testid=scene-editor] textarea")) return;
  event.target.closest(".scene-editor").querySelector(".scene-gutter").scrollTop = event.target.scrollTop;
}, true);
document.addEventListener("click", (event) => {
  const error = event.target.closest("#scene-errors [data-line]");
  if (!error) return;
  event.preventDefault();
  jumpTo(Number(error.dataset.line), Number(error.dataset.column));
});
// htmx swaps the errors list in place; mark the lines it names.
document.addEventListener("htmx:afterSettle", () => numberLines());
numberLines();
