"""Security headers: every response may load only Latchkey's own scripts, styles and images,
may not be framed, and leaks no URL to other sites; behind an ``https://`` issuer, browsers
are told to use nothing but HTTPS.

The console has no inline script or style at all, so the policy needs no ``'unsafe-inline'``
and no nonces; a page that tried to load anything from elsewhere would simply be refused.
"""

from __future__ import annotations

from flask import Response, current_app, request

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

#: One year. Sent only when the public URL is HTTPS: over a plain-HTTP issuer (loopback,
#: development) browsers ignore it anyway, and it must never pin a host that has no TLS.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


def add_security_headers(response: Response) -> Response:
    """``after_request`` hook for the whole app: headers a view set itself win (the OAuth
    endpoints set none of them, and are spared the search on their hot path)."""
    if request.blueprint == "oauth":
        response.headers.extend(HEADERS)
    else:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
    if current_app.config["LATCHKEY_ISSUER"].startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    if request.blueprint == "console":
        # Pages show members, credentials and once a secret (the docs, too: a test token):
        # never keep them in any cache, so neither the back button nor a shared proxy can
        # show them again.
        response.headers["Cache-Control"] = "no-store"
    return response
