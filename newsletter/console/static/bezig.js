// A workflow action that takes a minute or two (approving runs every check on every variant):
// once the form is sent, its button says so and cannot be pressed twice. Without JavaScript
// the form works the same; the page says beforehand that it takes a while.
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-bezig]");
  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      var status = form.querySelector(".bezig");
      if (button) {
        button.textContent = form.getAttribute("data-bezig");
        button.setAttribute("aria-disabled", "true");
        // after the browser has taken the form: a disabled button would not submit it
        window.setTimeout(function () { button.disabled = true; }, 0);
      }
      if (status) { status.textContent = form.getAttribute("data-bezig"); }
    });
  });
}());
