/* Rawi redaction workbench: selection → redact form, suggestion review by keyboard.
   No inline script (CSP): everything is wired here. Offsets sent to the server are Unicode code points
   into the segment text as rendered at the editor's tier; the server maps them back. */
(function () {
  "use strict";
  var root = document.getElementById("workbench");
  if (!root) { return; }
  var gettext = window.gettext || function (text) { return text; };

  var form = document.getElementById("redact-form");
  var fields = {
    segment: document.getElementById("redact-segment"),
    start: document.getElementById("redact-start"),
    end: document.getElementById("redact-end"),
    fingerprint: document.getElementById("redact-fingerprint"),
    selected: document.getElementById("redact-selected"),
    category: document.getElementById("redact-category"),
    submit: document.getElementById("redact-submit")
  };
  var decideForm = document.getElementById("decide-form");
  var list = document.getElementById("suggestion-list");

  function codePoints(text) { return Array.from(text).length; }

  function workOf(node) {
    var el = node && (node.nodeType === 1 ? node : node.parentElement);
    return el ? el.closest(".wb-work") : null;
  }

  /* Offset (code points) of a DOM boundary point within a work cell. */
  function offsetIn(work, container, offset) {
    var range = document.createRange();
    range.selectNodeContents(work);
    range.setEnd(container, offset);
    return codePoints(range.toString());
  }

  /* Widen [start, end) so that it never cuts an atomic (withheld) piece. */
  function snap(work, start, end) {
    var cursor = 0;
    Array.prototype.forEach.call(work.querySelectorAll(".pc"), function (piece) {
      var len = codePoints(piece.textContent);
      var pStart = cursor, pEnd = cursor + len;
      if (piece.dataset.atomic && pStart < end && pEnd > start) {
        start = Math.min(start, pStart);
        end = Math.max(end, pEnd);
      }
      cursor = pEnd;
    });
    return [start, end];
  }

  function clearSelection() {
    fields.segment.value = fields.start.value = fields.end.value = fields.fingerprint.value = "";
    fields.selected.textContent = fields.selected.dataset.empty || gettext("nothing yet — select words in the working column");
    fields.submit.disabled = true;
    root.classList.remove("has-selection");
  }

  function readSelection() {
    var selection = window.getSelection();
    if (!selection || selection.rangeCount === 0 || selection.isCollapsed) { return false; }
    var range = selection.getRangeAt(0);
    var work = workOf(range.startContainer);
    if (!work || work !== workOf(range.endContainer)) { return false; }
    var start = offsetIn(work, range.startContainer, range.startOffset);
    var end = offsetIn(work, range.endContainer, range.endOffset);
    if (end <= start) { return false; }
    var text = Array.from(work.textContent);
    var snapped = snap(work, start, end);
    start = snapped[0]; end = snapped[1];
    while (start < end && /\s/.test(text[start])) { start += 1; }
    while (end > start && /\s/.test(text[end - 1])) { end -= 1; }
    if (end <= start) { return false; }
    fields.segment.value = work.dataset.segment;
    fields.start.value = String(start);
    fields.end.value = String(end);
    fields.fingerprint.value = work.dataset.fingerprint;
    fields.selected.textContent = text.slice(start, end).join("");
    fields.submit.disabled = false;
    root.classList.add("has-selection");
    return true;
  }

  document.addEventListener("mouseup", function (event) {
    if (form && !form.contains(event.target)) { readSelection(); }
  });
  document.addEventListener("selectionchange", function () {
    var selection = window.getSelection();
    if (selection && !selection.isCollapsed && workOf(selection.anchorNode)) { readSelection(); }
  });

  /* Suggestions ------------------------------------------------------------------------------ */
  function items() { return list ? Array.prototype.slice.call(list.querySelectorAll(".wb-suggestion")) : []; }

  function highlight(item) {
    Array.prototype.forEach.call(document.querySelectorAll(".pc-focus"), function (el) { el.classList.remove("pc-focus"); });
    if (!item) { return; }
    var id = item.dataset.id;
    var first = null;
    Array.prototype.forEach.call(document.querySelectorAll(".pc-sugg"), function (el) {
      if ((el.dataset.sugg || "").split(" ").indexOf(id) >= 0) {
        el.classList.add("pc-focus");
        first = first || el;
      }
    });
    if (first && first.scrollIntoView) { first.scrollIntoView({ block: "nearest" }); }
  }

  function focusItem(index) {
    var all = items();
    if (!all.length) { return; }
    index = Math.max(0, Math.min(all.length - 1, index));
    all[index].focus();
  }

  function decideOne(item, action) {
    if (!decideForm) { return; }
    items().forEach(function (other) { other.querySelector("input[type=checkbox]").checked = other === item; });
    var button = document.getElementById(action === "accept" ? "decide-accept" : "decide-reject");
    decideForm.requestSubmit(button);
  }

  if (list) {
    list.addEventListener("focusin", function (event) {
      var item = event.target.closest(".wb-suggestion");
      highlight(item);
    });
  }
  var all = document.getElementById("suggest-all");
  if (all) {
    all.addEventListener("change", function () {
      items().forEach(function (item) { item.querySelector("input[type=checkbox]").checked = all.checked; });
    });
  }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName) && target.type !== "checkbox");
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var item = document.activeElement && document.activeElement.closest ? document.activeElement.closest(".wb-suggestion") : null;
    var position = item ? items().indexOf(item) : -1;
    switch (event.key) {
      case "r":
        if (readSelection()) {
          event.preventDefault();
          fields.category.focus();
        }
        break;
      case "ArrowDown":
      case "j":
        if (items().length) { event.preventDefault(); focusItem(position + 1); }
        break;
      case "ArrowUp":
      case "k":
        if (items().length) { event.preventDefault(); focusItem(position < 0 ? 0 : position - 1); }
        break;
      case "a":
        if (item) { event.preventDefault(); decideOne(item, "accept"); }
        break;
      case "x":
        if (item) { event.preventDefault(); decideOne(item, "reject"); }
        break;
      case " ":
        if (item && event.target === item) {
          event.preventDefault();
          var box = item.querySelector("input[type=checkbox]");
          box.checked = !box.checked;
        }
        break;
      case "Escape":
        window.getSelection().removeAllRanges();
        clearSelection();
        break;
      default:
        break;
    }
  });

  /* Keyboard-only selection ------------------------------------------------------------------
     Each working cell is reachable with Tab. While it has focus it takes a caret (contenteditable)
     so Shift+arrows select words, but every edit is refused: the text changes only through the
     correction page. r redacts the selection, Esc leaves the cell. */
  Array.prototype.forEach.call(document.querySelectorAll(".wb-work"), function (work) {
    work.setAttribute("tabindex", "0");
    work.setAttribute("role", "textbox");
    work.setAttribute("aria-readonly", "true");
    work.setAttribute("aria-multiline", "true");
    work.setAttribute("aria-describedby", "wb-help");
    work.addEventListener("focus", function () {
      work.setAttribute("contenteditable", "true");
      var selection = window.getSelection();
      if (selection && !work.contains(selection.anchorNode)) { selection.collapse(work, 0); }
    });
    work.addEventListener("blur", function () { work.removeAttribute("contenteditable"); });
    ["beforeinput", "paste", "drop", "cut"].forEach(function (type) {
      work.addEventListener(type, function (event) { event.preventDefault(); });
    });
    work.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey) { return; }
      if (event.key === "r" || event.key === "Enter") {
        event.preventDefault();
        if (readSelection()) { fields.category.focus(); }
      } else if (event.key === "Escape") {
        work.blur();
      } else if (event.key.length === 1 && event.key !== " ") {
        event.preventDefault();
      }
    });
  });
})();
