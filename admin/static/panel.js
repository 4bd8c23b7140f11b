// The panel's own few lines of script; everything else is htmx.
// Inbox keys: j / k next / previous conversation, a approve, e edit the draft, r reject,
// t take over, / search, ? show or hide this list. Typing in a field never triggers them.
(function () {
  "use strict";

  function rows() {
    return Array.from(document.querySelectorAll("[data-testid=conversations] [data-conversation]"));
  }

  function move(step) {
    const all = rows();
    if (!all.length) return;
    const current = all.findIndex((row) => row.classList.contains("active"));
    const next = all[Math.min(Math.max(current + step, 0), all.length - 1)];
    all.forEach((row) => row.classList.remove("active"));
    next.classList.add("active");
    next.scrollIntoView({ block: "nearest" });
    next.click();
  }

  // The row of the conversation shown is highlighted, whether it was opened by a click, a key or
  // the page's address, and again after a live refresh redraws the list.
  function markShown() {
    const shown = document.querySelector("#dialogue [data-conversation]");
    const id = shown ? shown.getAttribute("data-conversation") : null;
    rows().forEach((row) => row.classList.toggle("active", row.getAttribute("data-conversation") === id));
  }

  document.addEventListener("htmx:afterSettle", markShown);

  document.addEventListener("keydown", function (event) {
    if (!document.querySelector(".inbox")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    const key = event.key;
    if (key === "j" || key === "k") {
      move(key === "j" ? 1 : -1);
    } else if (key === "e") {
      const text = document.querySelector("[data-testid=draft-text]");
      if (!text) return;
      text.focus();
      text.setSelectionRange(text.value.length, text.value.length);
    } else if (key === "/") {
      const search = document.querySelector(".inbox input[name=q]");
      if (!search) return;
      search.focus();
    } else if (key === "?") {
      const help = document.getElementById("keys-help");
      if (!help) return;
      help.classList.toggle("d-none");
    } else {
      const button = document.querySelector('#dialogue [data-key="' + key + '"]');
      if (!button) return;
      // htmx wires swapped-in content only when it settles (~20 ms later): a key pressed in
      // between would submit the draft's form natively, as a GET that approves nothing.
      const form = button.closest("form");
      if (form && window.htmx) window.htmx.process(form);
      button.click();
    }
    event.preventDefault();
  });
})();
