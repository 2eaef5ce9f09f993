// A list's sort and filter form sends only the fields that are filled, so the address it leads to holds
// only what was chosen (the server redirects there anyway when this script does not run).
// Hooks (no inline JS, CSP): form[data-list-controls].
(function () {
  "use strict";
  var forms = Array.prototype.slice.call(document.querySelectorAll("form[data-list-controls]"));

  function fields(form) {
    return Array.prototype.filter.call(form.elements, function (field) { return field.name; });
  }

  forms.forEach(function (form) {
    form.addEventListener("submit", function () {
      fields(form).forEach(function (field) { if (field.value === "") field.disabled = true; });
    });
  });
  // Back to this page from the history: its fields must be usable again.
  window.addEventListener("pageshow", function () {
    forms.forEach(function (form) { fields(form).forEach(function (field) { field.disabled = false; }); });
  });
})();
