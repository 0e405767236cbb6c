// The leaderboard web page (bench leaderboard --format html): sortable columns and filters.
// Reads only the page's own markup (data-* attributes and text); writes text with textContent and
// never parses data as HTML.
(function () {
  "use strict";

  var collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });

  // The value of a row's cell to sort by: a number (data-sort) for number columns, else the text;
  // null when missing (missing values sort last in either direction).
  function sortValue(row, index, type) {
    var cell = row.cells[index];
    if (!cell) {
      return null;
    }
    var raw = cell.getAttribute("data-sort");
    if (type === "number") {
      if (raw === null || raw === "") {
        return null;
      }
      var value = Number(raw);
      return isFinite(value) ? value : null;
    }
    var text = raw !== null ? raw : cell.textContent.trim();
    return text === "" || text === "\u2013" ? null : text;
  }

  // Click a header: best first (the column's data-first), click again: the other way. Stable: rows
  // that tie keep their current order, so sorting by one column then another sorts by both.
  function sortBy(header) {
    var table = header.closest("table");
    var body = table.tBodies[0];
    var index = header.cellIndex;
    var type = header.getAttribute("data-type");
    var state = header.getAttribute("aria-sort");
    var direction = header.getAttribute("data-first") || "asc";
    if (state === "ascending") {
      direction = "desc";
    } else if (state === "descending") {
      direction = "asc";
    }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
      if (cell.hasAttribute("aria-sort")) {
        cell.setAttribute("aria-sort", "none");
      }
    });
    header.setAttribute("aria-sort", direction === "asc" ? "ascending" : "descending");
    var rows = Array.prototype.filter.call(body.rows, function (row) {
      return !row.classList.contains("empty");
    });
    var keyed = rows.map(function (row) {
      return { row: row, value: sortValue(row, index, type) };
    });
    keyed.sort(function (a, b) {
      if (a.value === null || b.value === null) {
        return (a.value === null ? 1 : 0) - (b.value === null ? 1 : 0);
      }
      var order = type === "number" ? a.value - b.value : collator.compare(a.value, b.value);
      return direction === "desc" ? -order : order;
    });
    keyed.forEach(function (item) {
      body.appendChild(item.row);
    });
    Array.prototype.forEach.call(body.querySelectorAll("tr.empty"), function (row) {
      body.appendChild(row);
    });
  }

  function selected() {
    var wanted = {};
    Array.prototype.forEach.call(document.querySelectorAll("select[data-filter]"), function (select) {
      if (select.value !== "") {
        wanted[select.getAttribute("data-filter")] = select.value;
      }
    });
    return wanted;
  }

  function rowShown(row, wanted, kinds) {
    var kind = row.getAttribute("data-kind");
    if (kinds[kind] === false) {
      return false;
    }
    if (kind === "chance") {
      return true;
    }
    return ["backbone", "family", "prompt"].every(function (facet) {
      return !(facet in wanted) || row.getAttribute("data-" + facet) === wanted[facet];
    });
  }

  function applyFilters() {
    var wanted = selected();
    var kinds = {};
    Array.prototype.forEach.call(document.querySelectorAll("input[data-kind]"), function (box) {
      kinds[box.getAttribute("data-kind")] = box.checked;
    });
    var dataset = wanted.dataset;
    Array.prototype.forEach.call(document.querySelectorAll("[data-dataset]"), function (element) {
      element.hidden = dataset !== undefined && element.getAttribute("data-dataset") !== dataset;
    });
    Array.prototype.forEach.call(document.querySelectorAll("table.board"), function (table) {
      var shown = 0;
      var total = 0;
      Array.prototype.forEach.call(table.querySelectorAll("tr[data-kind]"), function (row) {
        var visible = rowShown(row, wanted, kinds);
        row.hidden = !visible;
        if (row.parentNode.tagName === "TBODY") {
          total += 1;
          shown += visible ? 1 : 0;
        }
      });
      var empty = table.querySelector("tr.empty");
      if (empty) {
        empty.hidden = shown > 0;
      }
      var count = document.getElementById(table.id + "-count");
      if (count) {
        count.textContent = shown === total ? total + " rows" : shown + " of " + total + " rows shown";
      }
    });
  }

  function resetFilters() {
    Array.prototype.forEach.call(document.querySelectorAll("select[data-filter]"), function (select) {
      select.value = "";
    });
    Array.prototype.forEach.call(document.querySelectorAll("input[data-kind]"), function (box) {
      box.checked = true;
    });
    applyFilters();
  }

  // A footnote link opens the run details it points into.
  function openTarget() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var target = id ? document.getElementById(id) : null;
    var details = target ? target.closest("details") : null;
    if (details) {
      details.open = true;
      target.scrollIntoView();
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.board th[data-type] button"), function (button) {
    button.addEventListener("click", function () {
      sortBy(button.closest("th"));
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("select[data-filter], input[data-kind]"), function (input) {
    input.addEventListener("change", applyFilters);
  });
  var reset = document.getElementById("reset-filters");
  if (reset) {
    reset.addEventListener("click", resetFilters);
  }
  window.addEventListener("hashchange", openTarget);
  applyFilters();
  openTarget();
})();
