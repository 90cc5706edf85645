"""The web UI: the staff console under ``/app`` (and, later, the customer portal under
``/portal``), server-rendered with Jinja2 and htmx, served by the same app as the API.

Every action calls the same domain services, with the same actor and permissions, as the API
routes do: no business rule lives in a template or in JavaScript. Pages carry a CSP with no
inline script or style (``api.security_headers.page_csp``); assets are vendored (see
``static/vendor/README.md``), never fetched from a CDN.
"""
