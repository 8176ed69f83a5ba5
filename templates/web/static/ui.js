// Small helpers every page may use, loaded from mailhub itself (no inline script):
// - Destructive actions ask first: a form, or a button, with data-confirm="Question?" submits
//   only when the person says yes. Without JavaScript the action goes ahead as before (the
//   gravest, erasing an account, is confirmed again by a mailed link).
// - A button with data-copy="ID" copies the value of the input ID and says so.
(function () {
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    var question =
      (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var field = document.getElementById(button.getAttribute("data-copy"));
      if (!field) return;
      var done = function () { button.textContent = "Copied"; };
      field.select();
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(field.value).then(done, function () {
          if (document.execCommand("copy")) done();
        });
      } else if (document.execCommand("copy")) {
        done();
      }
    });
  });
})();
