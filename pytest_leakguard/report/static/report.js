(function () {
  "use strict";
  var box = document.getElementById("filter");
  var select = document.getElementById("verdict");
  var counter = document.getElementById("shown");
  var tests = document.querySelectorAll("article.test");
  var chips = document.querySelectorAll("button.chip");
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
    for (var j = 0; j < chips.length; j++) {
      chips[j].classList.toggle("active", chips[j].getAttribute("data-verdict") === verdict);
    }
    counter.textContent = shown + " of " + tests.length + " tests shown";
  }
  function pick(event) {
    var verdict = event.currentTarget.getAttribute("data-verdict");
    select.value = select.value === verdict ? "" : verdict;
    apply();
  }
  box.addEventListener("input", apply);
  select.addEventListener("change", apply);
  for (var k = 0; k < chips.length; k++) { chips[k].addEventListener("click", pick); }
  apply();
})();
