// Starts Redoc on /redoc. A file of its own, not an inline script, so that the page's
// Content-Security-Policy can allow scripts from the platform's origin only; the styles Redoc
// writes at run time carry the nonce the page's policy names (docs/security.md).
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("redoc-container");
  Redoc.init(
    root.dataset.openapiUrl,
    {
      nonce: root.dataset.nonce,
      // The native scrollbars: the custom ones need a style sheet Redoc injects on load,
      // before it knows the nonce, which the policy would block.
      nativeScrollbars: true,
    },
    root
  );
});
