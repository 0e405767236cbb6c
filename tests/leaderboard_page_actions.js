// Actions of tests/test_leaderboard_html.py::test_page_in_a_headless_browser, run in the page once it
// has loaded (the body of a function; tests/browser.py runs it and reads back what it returns).
var report = {};
var ranking = document.querySelector("table[id$='-ranking']");
function column(table, label) {
  var cells = table.tHead.rows[0].cells;
  for (var i = 0; i < cells.length; i++) { if (cells[i].textContent.trim() === label) { return i; } }
  throw new Error("no column " + label);
}
function values(table, label) {
  var index = column(table, label);
  return Array.prototype.filter.call(table.tBodies[0].rows, function (row) { return !row.hidden; })
    .map(function (row) { var cell = row.cells[index]; return cell.getAttribute("data-sort") || cell.textContent.trim(); });
}
function click(table, label) { table.tHead.rows[0].cells[column(table, label)].querySelector("button").click(); }
function choose(facet, value) {
  var select = document.querySelector("select[data-filter='" + facet + "']");
  select.value = value;
  select.dispatchEvent(new Event("change"));
}
function shown(table) {
  return Array.prototype.filter.call(table.querySelectorAll("tr[data-kind]"), function (row) { return !row.hidden; })
    .map(function (row) { return row.getAttribute("data-kind") + ":" + row.getAttribute("data-backbone"); });
}
report.initial = values(ranking, "mAP@all");
click(ranking, "P@100");
report.p100_first = values(ranking, "P@100");
report.p100_sort = ranking.tHead.rows[0].cells[column(ranking, "P@100")].getAttribute("aria-sort");
click(ranking, "P@100");
report.p100_second = values(ranking, "P@100");
click(ranking, "Backbone");
report.backbones = values(ranking, "Backbone");
choose("backbone", "sd-tiny");
report.backbone_filter = shown(ranking);
report.count = document.getElementById(ranking.id + "-count").textContent;
choose("backbone", "");
choose("family", "openclip");
report.family_filter = shown(ranking);
document.getElementById("reset-filters").click();
choose("dataset", "synthetic-fg");
report.sections_hidden = Array.prototype.map.call(document.querySelectorAll("section"), function (section) {
  return section.id + ":" + section.hidden;
});
report.pivot_hidden = Array.prototype.map.call(document.querySelectorAll("#pivot th[data-dataset]"), function (th) {
  return th.getAttribute("data-dataset") + ":" + th.hidden;
});
document.getElementById("reset-filters").click();
var box = document.querySelector("input[data-kind='reported']");
box.checked = false;
box.dispatchEvent(new Event("change"));
report.without_reported = shown(ranking).filter(function (row) { return row.indexOf("reported") === 0; }).length;
report.hostile_texts = Array.prototype.filter.call(document.querySelectorAll("td"), function (cell) {
  return cell.textContent.indexOf("<img src=x onerror=alert(1)>") >= 0 || cell.textContent.indexOf("<\/script><script>alert(2)<\/script>") >= 0;
}).length;
report.family_options = Array.prototype.map.call(document.querySelectorAll("select[data-filter='family'] option"), function (option) {
  return option.textContent;
});
report.images = document.querySelectorAll("img").length;
report.scripts = document.scripts.length;
report.figures = document.querySelectorAll("figure svg").length;
report.active_in_figures = document.querySelectorAll("figure script, figure foreignObject").length;
return report;
