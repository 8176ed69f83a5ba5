// Rich-text editing of a page with Squire: the page's own HTML is edited as it is (bold,
// links, lists, tables and images stay), and sent back in a hidden field, which the server
// sanitises as it sanitises mail. Saving without a change sends the page's HTML untouched, so
// no revision is made. Without JavaScript the plain-text box works as before.
(function () {
  var form = document.getElementById("page-form");
  var holder = document.getElementById("editor");
  if (!form || !holder || typeof window.Squire !== "function") return;
  var field = form.querySelector("input[name=body_html]");
  var mode = form.querySelector("input[name=mode]");
  var text = document.getElementById("text");
  var original = field.value;
  var editor = new window.Squire(holder, { blockTag: "P" });
  editor.setHTML(original);
  var initial = editor.getHTML();
  form.querySelector(".editor").hidden = false;
  text.hidden = true;
  text.disabled = true;
  document.getElementById("text-help").textContent =
    "Select text and use the buttons to format it; links, lists, tables and images are kept.";
  mode.value = "rich";
  var commands = {
    bold: function () { editor.hasFormat("B") ? editor.removeBold() : editor.bold(); },
    italic: function () { editor.hasFormat("I") ? editor.removeItalic() : editor.italic(); },
    link: function () {
      var url = window.prompt("Link address", "https://");
      if (url && /^(https?:|mailto:)/i.test(url.trim())) editor.makeLink(url.trim());
    },
    bullets: function () { editor.hasFormat("UL") ? editor.removeList() : editor.makeUnorderedList(); },
    numbers: function () { editor.hasFormat("OL") ? editor.removeList() : editor.makeOrderedList(); },
    undo: function () { editor.undo(); },
    redo: function () { editor.redo(); },
  };
  form.querySelectorAll("[data-command]").forEach(function (button) {
    button.addEventListener("click", function () {
      var run = commands[button.getAttribute("data-command")];
      if (run) run();
      editor.focus();
    });
  });
  form.addEventListener("submit", function () {
    var now = editor.getHTML();
    field.value = now === initial ? original : now;
  });
})();
