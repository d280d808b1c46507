// The issue page: the intro's Markdown preview follows what is typed (the server renders it,
// as it will in the e-mail). Without JavaScript the "Voorbeeld van de inleiding" button does it.
(function () {
  "use strict";
  var field = document.getElementById("intro");
  var shown = document.getElementById("inleiding-voorbeeld");
  if (!field || !shown || !window.fetch) { return; }
  var token = field.form.querySelector("input[name=csrf_token]").value;
  var timer = null;
  field.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      var body = new URLSearchParams();
      body.set("csrf_token", token);
      body.set("intro", field.value);
      fetch(field.getAttribute("data-voorbeeld"), {
        method: "POST", body: body, credentials: "same-origin"
      })
        .then(function (answer) { return answer.ok ? answer.text() : null; })
        .then(function (html) { if (html !== null) { shown.innerHTML = html; } })
        .catch(function () { /* the button still works */ });
    }, 400);
  });
}());
