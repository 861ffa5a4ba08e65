// Renders /docs/api from the OpenAPI document; a file, since the page's CSP allows no inline script.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("api-reference");
  window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    // Deep links put an anchor inside each operation's toggle button (nested controls).
    deepLinking: false,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    // A reference to read: requests are made with curl or a client, not from here.
    supportedSubmitMethods: [],
    validatorUrl: null,
    onComplete: function () {
      var servers = document.getElementById("servers");
      if (servers) servers.setAttribute("aria-label", "Server");
    },
  });
});
