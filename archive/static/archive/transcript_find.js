// Transcript tools that need no player: ?t=SECONDS (or H:MM:SS) scrolls to the segment holding that
// moment, and the find box steps through matches with next/previous (Enter / Shift+Enter, Esc clears).
// Hooks (no inline JS, CSP): .transcript .segment[data-start][data-end] .text, form[data-transcript-search].
(function () {
  "use strict";
  var segments = Array.prototype.slice.call(document.querySelectorAll(".transcript .segment[data-start][data-end]"));
  var starts = segments.map(function (el) { return parseFloat(el.dataset.start); });

  function segmentAt(t) {
    // Links carry whole seconds: a segment starting at 4.6 s is linked as ?t=4.
    for (var j = segments.length - 1; j >= 0; j--) { if (Math.floor(starts[j]) <= t) return segments[j]; }
    return segments[0] || null;
  }

  var t = new URLSearchParams(window.location.search).get("t");
  if (t && segments.length) {
    var seconds = t.split(":").reduce(function (acc, part) { return acc * 60 + parseFloat(part); }, 0);
    var target = isNaN(seconds) ? null : segmentAt(seconds);
    if (target) {
      target.classList.add("linked");
      if (!window.location.hash) target.scrollIntoView({ block: "center" });
    }
  }

  // Find in this transcript.
  var form = document.querySelector("form[data-transcript-search]");
  if (!form) return;
  var input = form.querySelector("[data-find-input]");
  var status = form.querySelector("[data-find-status]");
  var texts = Array.prototype.slice.call(document.querySelectorAll(".transcript .segment .text"));
  var originals = texts.map(function (el) { return el.textContent; });
  var marks = [], position = -1;
  form.hidden = false;

  function fold(s) {
    // Case, Arabic diacritics and tatweel, and alef forms do not matter when finding.
    return s.toLocaleLowerCase().replace(/[\u064B-\u065F\u0670\u0640]/g, "").replace(/[\u0622\u0623\u0625\u0671]/g, "\u0627");
  }

  function clear() {
    texts.forEach(function (el, i) { if (el.querySelector("mark")) el.textContent = originals[i]; });
    marks = []; position = -1;
  }

  function run() {
    clear();
    var query = fold(input.value.trim());
    if (!query) { status.textContent = ""; return; }
    texts.forEach(function (el, i) {
      var text = originals[i];
      // Fold character by character so offsets in the folded text map back onto the original.
      var folded = "", map = [];
      for (var k = 0; k < text.length; k++) {
        var f = fold(text[k]);
        for (var m = 0; m < f.length; m++) { folded += f[m]; map.push(k); }
      }
      var from = 0, found, pieces = [], last = 0;
      while ((found = folded.indexOf(query, from)) >= 0) {
        var a = map[found], b = map[found + query.length - 1] + 1;
        pieces.push([a, b]);
        from = found + query.length;
      }
      if (!pieces.length) return;
      el.textContent = "";
      pieces.forEach(function (p) {
        el.appendChild(document.createTextNode(text.slice(last, p[0])));
        var mark = document.createElement("mark");
        mark.textContent = text.slice(p[0], p[1]);
        el.appendChild(mark);
        marks.push(mark);
        last = p[1];
      });
      el.appendChild(document.createTextNode(text.slice(last)));
    });
    if (!marks.length) { status.textContent = status.dataset.none; return; }
    go(0);
  }

  function go(index) {
    if (!marks.length) return;
    if (position >= 0) marks[position].classList.remove("hit-current");
    position = (index + marks.length) % marks.length;
    var mark = marks[position];
    mark.classList.add("hit-current");
    mark.scrollIntoView({ block: "center" });
    status.textContent = status.dataset.of.replace("%(current)s", position + 1).replace("%(total)s", marks.length);
  }

  var timer = null;
  input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 200); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault();
      if (!marks.length) run(); else go(position + (event.shiftKey ? -1 : 1));
    } else if (event.key === "Escape") { input.value = ""; clear(); status.textContent = ""; }
  });
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  form.querySelector("[data-find-next]").addEventListener("click", function () { if (!marks.length) run(); else go(position + 1); });
  form.querySelector("[data-find-prev]").addEventListener("click", function () { if (!marks.length) run(); else go(position - 1); });
})();
