// Copy buttons: a button with data-copy="ID" copies the text (or a field's value) of element ID.
// Without JavaScript the buttons stay hidden and the text can be selected by hand.
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  if (!navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    var source = document.getElementById(button.dataset.copy);
    var text = ("value" in source ? source.value : source.textContent).trim();
    navigator.clipboard.writeText(text).then(function () {
      button.textContent = "Copied";
    });
  });
});
// A "Print" button where printing is possible; the browser's own Print works without it.
document.querySelectorAll("button.print").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
// New client: the slug follows the name as it is typed, until someone edits the slug itself.
// The server takes the name's slug when the field is left empty, so this is only a preview.
document.querySelectorAll("form[data-slug-from]").forEach(function (form) {
  var name = document.getElementById(form.dataset.slugFrom);
  var slug = document.getElementById(form.dataset.slugTo);
  var follows = slug.value === "";
  slug.addEventListener("input", function () { follows = slug.value === ""; });
  name.addEventListener("input", function () {
    if (!follows) return;
    slug.value = name.value.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/'/g, "").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63)
      .replace(/-+$/, "");
  });
});
