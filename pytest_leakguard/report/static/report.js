(function () {
  "use strict";
  var box = document.getElementById("filter");
  var select = document.getElementById("verdict");
  var counter = document.getElementById("shown");
  var chips = document.querySelectorAll("button.chip");
  var list = document.getElementById("compact");
  var more = document.getElementById("more");
  var data = document.getElementById("compact-data");
  // Past a page of one-line tests, all of them are data: the list shows a page of the matches.
  var compact = data ? JSON.parse(data.textContent) : null;
  var tests = Array.prototype.filter.call(document.querySelectorAll("article.test"), function (a) {
    return !compact || !list.contains(a);
  });
  var ids = [];
  var lower = [];
  if (compact) {
    for (var n = 0; n < compact.tests.length; n++) {
      ids.push(compact.files[compact.tests[n][0]] + compact.tests[n][1]);
      lower.push(ids[n].toLowerCase());
    }
  }
  var limit = compact ? compact.page : 0;
  var total = tests.length + ids.length;
  function span(parent, className, text) {
    var element = parent.appendChild(document.createElement("span"));
    element.className = className;
    element.textContent = text;
  }
  // The same line as html.py's _one_liner.
  function line(index) {
    var kind = compact.kinds[compact.tests[index][2]];
    var article = document.createElement("article");
    article.className = "test compact v-" + kind[0];
    article.id = "t" + (compact.first + index);
    article.setAttribute("data-nodeid", ids[index]);
    article.setAttribute("data-verdict", kind[0]);
    var summary = article.appendChild(document.createElement("details"))
      .appendChild(document.createElement("summary"));
    span(summary, "badge v-" + kind[0], kind[1]);
    span(summary, "nodeid", ids[index]);
    if (kind[2]) { span(summary, "brief", kind[2]); }
    return article;
  }
  function listCompact(query, verdict) {
    var found = [];
    for (var i = 0; i < ids.length; i++) {
      if ((!verdict || compact.kinds[compact.tests[i][2]][0] === verdict) &&
          lower[i].indexOf(query) !== -1) { found.push(i); }
    }
    var shown = Math.min(limit, found.length);
    var lines = document.createDocumentFragment();
    for (var j = 0; j < shown; j++) { lines.appendChild(line(found[j])); }
    list.textContent = "";
    list.appendChild(lines);
    var rest = found.length - shown;
    more.hidden = rest === 0;
    more.textContent = "show " + Math.min(rest, compact.page) + " more (" + rest + " not shown)";
    return shown;
  }
  function apply() {
    var query = box.value.trim().toLowerCase();
    var verdict = select.value;
    var shown = 0;
    for (var i = 0; i < tests.length; i++) {
      var test = tests[i];
      var match = (!verdict || test.getAttribute("data-verdict") === verdict) &&
        test.getAttribute("data-nodeid").toLowerCase().indexOf(query) !== -1;
      test.hidden = !match;
      if (match) { shown++; }
    }
    if (compact) { shown += listCompact(query, verdict); }
    for (var j = 0; j < chips.length; j++) {
      chips[j].classList.toggle("active", chips[j].getAttribute("data-verdict") === verdict);
    }
    counter.textContent = shown + " of " + total + " tests shown";
  }
  function refilter() {
    limit = compact ? compact.page : 0;
    apply();
  }
  function pick(event) {
    var verdict = event.currentTarget.getAttribute("data-verdict");
    select.value = select.value === verdict ? "" : verdict;
    refilter();
  }
  function pickFile(event) {
    box.value = event.currentTarget.getAttribute("data-file") + "::";
    select.value = "";
    refilter();
    document.getElementById("tests").scrollIntoView();
  }
  // A link to a test that is only data (from the baseline panel): list that test.
  function reveal() {
    var id = location.hash.slice(1);  // a section's id is t<number>: nothing to decode
    if (!compact || !/^t\d+$/.test(id) || document.getElementById(id)) { return; }
    var index = Number(id.slice(1)) - compact.first;
    if (index < 0 || index >= ids.length) { return; }
    box.value = ids[index];
    select.value = "";
    refilter();
    var target = document.getElementById(id);
    if (target) { target.scrollIntoView(); }
  }
  box.addEventListener("input", refilter);
  select.addEventListener("change", refilter);
  for (var k = 0; k < chips.length; k++) { chips[k].addEventListener("click", pick); }
  var files = document.querySelectorAll("button.file");
  for (var f = 0; f < files.length; f++) { files[f].addEventListener("click", pickFile); }
  if (more) {
    more.addEventListener("click", function () { limit += compact.page; apply(); });
  }
  window.addEventListener("hashchange", reveal);
  apply();
  reveal();
})();
