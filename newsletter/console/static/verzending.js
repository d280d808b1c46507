// The progress of a send: fetch this page again every few seconds and replace the counts
// (without JavaScript, the <noscript> meta refresh reloads the whole page instead).
(function () {
  "use strict";
  var region = document.getElementById("voortgang");
  if (!region) { return; }
  function look() {
    var seconds = Number(region.getAttribute("data-verversen"));
    if (!seconds) { window.location.reload(); return; } // it ended: the report and the actions
    window.setTimeout(function () {
      fetch(window.location.href, { credentials: "same-origin" })
        .then(function (answer) { return answer.text(); })
        .then(function (html) {
          var found = new DOMParser().parseFromString(html, "text/html").getElementById("voortgang");
          if (found) {
            region.innerHTML = found.innerHTML;
            region.setAttribute("data-verversen", found.getAttribute("data-verversen"));
          }
          look();
        })
        .catch(look);
    }, seconds * 1000);
  }
  if (Number(region.getAttribute("data-verversen"))) { look(); }
}());
