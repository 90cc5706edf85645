// Starts Swagger UI on /docs. A file of its own, not an inline script, so that the page's
// Content-Security-Policy can allow scripts from the platform's origin only (docs/security.md).
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // The token from "Authorize" survives a reload of the page (kept in localStorage).
    persistAuthorization: true,
    oauth2RedirectUrl: window.location.origin + root.dataset.oauth2RedirectUrl,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
});
