/* Settings -> Branding: keeps each colour's swatch and text in step, and
 * refreshes the preview as values change, by submitting the form to the
 * preview (the Preview button's own action and target). The page works
 * without it: the Preview button does the same on demand.
 */
(function () {
  "use strict";
  var form = document.getElementById("theme-form");
  var button = document.getElementById("preview-button");
  if (!form || !button) { return; }
  var COLOR = /^#[0-9a-fA-F]{6}$/;
  var timer = null;

  function refresh() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      if (form.requestSubmit) { form.requestSubmit(button); } else { button.click(); }
    }, 400);
  }

  Array.prototype.forEach.call(form.querySelectorAll("input[type=color][data-pairs]"), function (picker) {
    var text = document.getElementById(picker.getAttribute("data-pairs"));
    picker.addEventListener("input", function () { text.value = picker.value; refresh(); });
    text.addEventListener("input", function () {
      if (COLOR.test(text.value.trim())) { picker.value = text.value.trim().toLowerCase(); }
    });
  });

  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
}());
