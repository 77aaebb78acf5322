// VideoChat's small amount of page script. No inline script anywhere (strict CSP):
// behaviour is attached here, by data attributes, after htmx has loaded.
(function () {
  "use strict";

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status >= 500) {
      window.alert("Something went wrong on our side. Please try again in a moment.");
    }
  });
})();
