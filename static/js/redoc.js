// Starts ReDoc on /api/v1/redoc (api/docs.py), as ninja's inline script would:
// the page's CSP allows no inline script. ReDoc is ninja's redoc.standalone.js.
(function () {
  "use strict";

  // ReDoc's menu ends with Redocly's logo, an <img> from their CDN (React sets its
  // src as an attribute, then again as a property): the page is offline and its
  // img-src is ours, so that one image is left out, neither fetched nor refused by
  // the CSP; the "API docs by Redocly" link stays.
  var REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg";
  var setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (name === "src" && value === REDOCLY_LOGO && this instanceof HTMLImageElement) {
      this.hidden = true;
      return;
    }
    return setAttribute.call(this, name, value);
  };
  var src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    configurable: true,
    enumerable: src.enumerable,
    get: src.get,
    set: function (value) {
      if (value === REDOCLY_LOGO) {
        this.hidden = true;
        return;
      }
      src.set.call(this, value);
    }
  });

  // ReDoc's styles are <style> elements, allowed by the request's nonce (style-src),
  // which this script's own element carries: ReDoc's `nonce` option puts it on them.
  var element = document.getElementById("redoc-ui");
  var options = JSON.parse(document.getElementById("redoc-settings").textContent);
  options.nonce = document.currentScript.nonce;
  window.Redoc.init(element.getAttribute("data-spec-url"), options, element);
})();
