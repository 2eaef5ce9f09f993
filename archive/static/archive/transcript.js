// Transcript page: click a segment (or its time) to seek the player; the current segment follows playback.
// Hooks (no inline JS, CSP): <audio data-transcript-player> and elements with data-start/data-end (id seg-N).
(function () {
  "use strict";
  var player = document.querySelector("audio[data-transcript-player]");
  if (!player) return;
  var segments = Array.prototype.slice.call(document.querySelectorAll("[data-start][data-end]"));
  var starts = segments.map(function (el) { return parseFloat(el.dataset.start); });
  var ends = segments.map(function (el) { return parseFloat(el.dataset.end); });

  function seek(seconds) {
    if (isNaN(seconds)) return;
    var go = function () { player.currentTime = seconds; };
    if (player.readyState >= 1) go();
    else { player.preload = "auto"; player.addEventListener("loadedmetadata", go, { once: true }); player.load(); }
    var played = player.play();
    if (played && played.catch) played.catch(function () { /* autoplay refused: the position is still set */ });
  }

  segments.forEach(function (el) {
    el.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-seek]");
      if (link) { event.preventDefault(); seek(parseFloat(link.dataset.seek)); return; }
      // Clicks inside the editing forms and other links keep their own meaning.
      if (event.target.closest("form, textarea, select, input, button, label, a")) return;
      seek(parseFloat(el.dataset.start));
    });
  });

  var current = null;
  function follow() {
    var t = player.currentTime, found = null;
    for (var i = 0; i < segments.length; i++) {
      if (t >= starts[i] && t < ends[i]) { found = segments[i]; break; }
    }
    if (found === current) return;
    if (current) { current.classList.remove("current"); current.removeAttribute("aria-current"); }
    current = found;
    if (current) {
      current.classList.add("current");
      current.setAttribute("aria-current", "true");
      if (!current.contains(document.activeElement)) current.scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
  }
  player.addEventListener("timeupdate", follow);
  player.addEventListener("seeked", follow);
})();
