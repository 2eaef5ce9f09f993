// Transcript page: a segment's time link seeks the player (keyboard: Tab to it, Enter); a click on a
// segment does too; the current segment follows playback; ?t=SECONDS starts the player at that moment.
// Hooks (no inline JS, CSP): <audio data-transcript-player>, elements with data-start/data-end (id seg-N).
(function () {
  "use strict";
  var player = document.querySelector("audio[data-transcript-player]");
  var segments = Array.prototype.slice.call(document.querySelectorAll("[data-start][data-end]"));
  var starts = segments.map(function (el) { return parseFloat(el.dataset.start); });
  var ends = segments.map(function (el) { return parseFloat(el.dataset.end); });

  function seek(seconds, play) {
    if (!player || isNaN(seconds)) return;
    var go = function () { player.currentTime = seconds; };
    if (player.readyState >= 1) go();
    else { player.preload = "auto"; player.addEventListener("loadedmetadata", go, { once: true }); player.load(); }
    if (play === false) return;
    var played = player.play();
    if (played && played.catch) played.catch(function () { /* autoplay refused: the position is still set */ });
  }

  if (!player) return;
  segments.forEach(function (el) {
    el.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-seek]");
      if (link) {
        event.preventDefault();
        if (history.replaceState) history.replaceState(null, "", link.getAttribute("href"));
        seek(parseFloat(link.dataset.seek));
        return;
      }
      // Clicks inside the editing forms and other links keep their own meaning; so does selecting text.
      if (event.target.closest("form, textarea, select, input, button, label, a")) return;
      var selection = window.getSelection && window.getSelection();
      if (selection && !selection.isCollapsed) return;
      seek(parseFloat(el.dataset.start));
    });
  });

  var current = null;
  var follow = function () {
    var found = null, t = player.currentTime;
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
  };
  player.addEventListener("timeupdate", follow);
  player.addEventListener("seeked", follow);

  // Deep link to a moment: ?t=SECONDS (transcript_find.js scrolls to it): the player starts there.
  var t = new URLSearchParams(window.location.search).get("t");
  if (t) {
    var seconds = t.split(":").reduce(function (acc, part) { return acc * 60 + parseFloat(part); }, 0);
    if (!isNaN(seconds)) seek(seconds, false);
  }
})();
