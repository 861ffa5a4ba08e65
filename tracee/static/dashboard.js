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
