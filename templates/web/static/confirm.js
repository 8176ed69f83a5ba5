// Destructive actions ask first: a form, or a button, with data-confirm="Question?" submits
// only when the person says yes. Without JavaScript the action goes ahead as before (the
// gravest, erasing an account, is confirmed again by a mailed link).
(function () {
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    var question =
      (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
