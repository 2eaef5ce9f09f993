// The search box's suggestions: as the last word is typed, GET /api/v1/search/suggest/?q=… (words from
// documents the reader may see, as they are written there) fills the box's <datalist>; each option is
// the query with its last word completed. Hooks (no inline JS, CSP): input[list][data-suggest-url].
(function () {
  "use strict";
  var input = document.querySelector("input[list][data-suggest-url]");
  if (!input || !window.fetch) return;
  var list = document.getElementById(input.getAttribute("list"));
  var url = input.dataset.suggestUrl;
  var timer = null;
  var asked = "";

  function fill(query, words) {
    while (list.firstChild) list.removeChild(list.firstChild);
    var head = query.replace(/\S+$/, "");
    words.forEach(function (word) {
      var option = document.createElement("option");
      option.value = head + word;
      list.appendChild(option);
    });
  }

  function ask() {
    var query = input.value;
    var last = (query.match(/(\S+)$/) || ["", ""])[1].replace(/^[-("]+/, "");
    if (last.length < 2 || /["*)]$/.test(query) || query === asked) return;
    asked = query;
    fetch(url + "?" + new URLSearchParams({ q: last }).toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
      .then(function (data) { if (input.value === query) fill(query, data.suggestions || []); })
      .catch(function () {});
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 150);
  });
})();
