// The proposal page's line editor: add and remove rows, and check the lines as they are
// edited (POST /api/proposals/{id}/check runs the ledger's validation; nothing is saved).
(function () {
  "use strict";
  var form = document.getElementById("edit-form");
  if (!form) {
    return;
  }
  var body = document.getElementById("edit-lines");
  var template = document.getElementById("edit-row");
  var live = document.getElementById("live");
  var addButton = document.getElementById("add-line");
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var checkUrl = form.getAttribute("data-check-url");
  var timer = null;
  var asked = 0;

  function rows() {
    return Array.prototype.slice.call(body.querySelectorAll("tr"));
  }

  function value(row, name) {
    var field = row.querySelector('[name="' + name + '"]');
    return field ? field.value.trim() : "";
  }

  // The rows that are lines: blank rows (no account, no amount) are left out, as the
  // server leaves them out when the form is saved.
  function filledRows() {
    return rows().filter(function (row) {
      return value(row, "account") !== "" || value(row, "amount") !== "";
    });
  }

  function lines(filled) {
    return filled.map(function (row) {
      var amount = value(row, "amount") || "0";
      var credit = value(row, "side") === "credit";
      return {
        account: value(row, "account"),
        debit: credit ? "0" : amount,
        credit: credit ? amount : "0",
        description: value(row, "description"),
      };
    });
  }

  function text(tag, content, className) {
    var node = document.createElement(tag);
    node.textContent = content;
    if (className) {
      node.className = className;
    }
    return node;
  }

  function show(result, filled) {
    live.textContent = "";
    var totals = text(
      "p",
      "Debit " + result.debit + " · Credit " + result.credit + " · Difference " + result.difference,
      "totals"
    );
    live.appendChild(totals);
    if (result.violations.length === 0) {
      live.appendChild(text("p", "No violations.", "ok"));
    } else {
      var list = document.createElement("ul");
      list.className = "violations";
      result.violations.forEach(function (v) {
        var item = document.createElement("li");
        item.appendChild(text("code", v.code));
        item.appendChild(document.createTextNode(" " + v.message));
        if (v.line) {
          item.appendChild(text("span", " (line " + v.line + ")", "muted"));
        }
        list.appendChild(item);
      });
      live.appendChild(list);
    }
    live.setAttribute(
      "data-codes",
      result.violations.map(function (v) { return v.code; }).join(" ")
    );
    live.setAttribute("data-checked", "true");
    rows().forEach(function (row) {
      row.classList.remove("has-problem");
    });
    filled.forEach(function (row, index) {
      var named = result.lines[index];
      var cell = row.querySelector(".account-name");
      if (named && cell) {
        cell.textContent = named.account_name || (named.account ? "not in the chart" : "");
      }
      var wrong = result.violations.some(function (v) { return v.line === index + 1; });
      if (wrong) {
        row.classList.add("has-problem");
      }
    });
  }

  function check() {
    var filled = filledRows();
    var mine = ++asked;
    live.setAttribute("data-checked", "false");
    fetch(checkUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRF-Token": csrf ? csrf.getAttribute("content") : "",
      },
      body: JSON.stringify({ lines: lines(filled) }),
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("the check answered " + response.status);
        }
        return response.json();
      })
      .then(function (result) {
        if (mine === asked) {
          show(result, filled);
        }
      })
      .catch(function (error) {
        if (mine === asked) {
          live.textContent = "";
          live.appendChild(text("p", "Could not check the lines: " + error.message, "warn"));
        }
      });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 250);
  }

  function wire(row) {
    var remove = row.querySelector(".remove-line");
    if (remove) {
      remove.hidden = false;
      remove.addEventListener("click", function () {
        row.remove();
        later();
      });
    }
  }

  rows().forEach(wire);
  addButton.hidden = false;
  addButton.addEventListener("click", function () {
    var row = template.content.firstElementChild.cloneNode(true);
    body.appendChild(row);
    wire(row);
    var first = row.querySelector('[name="account"]');
    if (first) {
      first.focus();
    }
  });
  body.addEventListener("input", later);
  body.addEventListener("change", later);
  var editor = document.getElementById("editor");
  if (editor) {
    editor.addEventListener("toggle", function () {
      if (editor.open) {
        check();
      }
    });
    if (editor.open) {
      check();
    }
  }
})();
