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

  // Live pushes over /ws/events/: each top-level element replaces the element
  // with the same id, when this page shows one (pages show different parts,
  // and a push is only a hint). Then, if a video finished, tell the page so
  // regions listening for "video-finished" re-read their state.
  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    event.preventDefault();
    var template = document.createElement("template");
    template.innerHTML = event.detail.message;
    Array.prototype.forEach.call(template.content.children, function (element) {
      var target = element.id && document.getElementById(element.id);
      if (!target) { return; }
      if (element.getAttribute("data-swap") === "beforeend") {
        htmx.swap(target, element.innerHTML, { swapStyle: "beforeend" });
        htmx.trigger(target, "pushed-content");
        return;
      }
      var wasFinished = target.getAttribute("data-finished") === "true";
      htmx.swap(target, element.outerHTML, { swapStyle: "outerHTML" });
      if (!wasFinished && element.getAttribute("data-finished") === "true") {
        htmx.trigger(document.body, "video-finished", { video: element.getAttribute("data-video") });
      }
    });
  });
})();
