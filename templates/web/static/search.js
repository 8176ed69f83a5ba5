// Find as you type: ask /search.json after each pause in typing and show the hits.
// Without JavaScript the same form submits to /search and the server renders the results.
(function () {
  var form = document.getElementById("search");
  if (!form) return;
  var input = form.querySelector("input[name=q]");
  var list = document.getElementById("hits");
  var timer = null;
  var latest = 0;
  function show(hits) {
    list.textContent = "";
    hits.forEach(function (h) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = h.url;
      a.textContent = h.title;
      li.appendChild(a);
      var meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = " " + h.where + (h.snippet ? " · " + h.snippet : "");
      li.appendChild(meta);
      list.appendChild(li);
    });
    if (!hits.length && input.value.trim()) {
      var none = document.createElement("li");
      none.className = "meta";
      none.textContent = list.getAttribute("data-none") || "Nothing found.";
      list.appendChild(none);
    }
  }
  function ask() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var asked = ++latest;
      fetch(form.action + ".json?q=" + encodeURIComponent(input.value), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : {hits: []}; })
        .then(function (data) { if (asked === latest) show(data.hits); });
    }, 150);
  }
  input.addEventListener("input", ask);
  // What was typed before this script ran (a slow connection) is searched too.
  if (input.value.trim() && input.value !== input.defaultValue) ask();
})();
