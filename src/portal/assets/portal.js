// The portal's own script (no inline scripts: the Content-Security-Policy forbids them).
// A form with data-confirm asks before it is sent (deleting, removing).
"use strict";
document.addEventListener("submit", function (e) {
  var form = e.target;
  var question = form && form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    e.preventDefault();
  }
}, true);
