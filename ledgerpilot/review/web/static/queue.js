// The queue page: "select all" for bulk approval, and no bulk approval of nothing.
(function () {
  "use strict";
  var all = document.getElementById("select-all");
  var form = document.getElementById("bulk-form");
  if (!all || !form) {
    return;
  }
  function boxes() {
    return form.querySelectorAll('input[type="checkbox"][name="id"]');
  }
  all.addEventListener("change", function () {
    boxes().forEach(function (box) {
      box.checked = all.checked;
    });
  });
  form.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (!button || !button.hasAttribute("data-needs-selection")) {
      return;
    }
    var chosen = Array.prototype.some.call(boxes(), function (box) {
      return box.checked;
    });
    if (!chosen) {
      event.preventDefault();
      window.alert("Select the proposals to approve first.");
    }
  });
})();
