// Transcript page: click a segment to seek the player; the current segment follows playback.
// Hooks (no inline JS, CSP): <audio data-transcript-player> and elements with data-start/data-end.
(function () {
  "use strict";
  var player = document.querySelector("audio[data-transcript-player]");
  if (!player) return;
  var segments = Array.prototype.slice.call(document.querySelectorAll("[data-start][data-end]"));
  segments.forEach(function (el) {
    el.addEventListener("click", function (event) {
      if (event.target.closest("form, textarea, button, a")) return;
      player.currentTime = parseFloat(el.dataset.start);
      player.play();
    });
  });
  var current = null;
  player.addEventListener("timeupdate", function () {
    var t = player.currentTime, found = null;
    for (var i = 0; i < segments.length; i++) {
      if (t >= parseFloat(segments[i].dataset.start) && t < parseFloat(segments[i].dataset.end)) { found = segments[i]; break; }
    }
    if (found === current) return;
    if (current) { current.classList.remove("is-current"); current.removeAttribute("aria-current"); }
    current = found;
    if (current) {
      current.classList.add("is-current");
      current.setAttribute("aria-current", "true");
      current.scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
  });
})();
