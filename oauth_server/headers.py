"""Security headers on every response, from Flask's views and from the OAuth endpoints served
in front of Flask (:mod:`oauth_server.oauth.wsgi`) alike.

Every response may load only Latchkey's own scripts, styles and images, may not be framed,
and leaks no URL to other sites; behind an ``https://`` issuer, browsers are told to use
nothing but HTTPS. The console has no inline script or style at all, so the policy needs no
``'unsafe-inline'`` and no nonces; a page that tried to load anything from elsewhere would
simply be refused.
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


def security_headers(issuer: str) -> list[tuple[str, str]]:
    """The headers every response of a deployment with this issuer carries."""
    headers = list(HEADERS.items())
    if issuer.startswith("https://"):
        headers.append(("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY))
    return headers


def add_security_headers(response: Response) -> Response:
    """``after_request`` hook for the Flask app: headers a view set itself win."""
    for name, value in security_headers(current_app.config["LATCHKEY_ISSUER"]):
        response.headers.setdefault(name, value)
    if request.blueprint == "console":
        # Pages show members, credentials and once a secret (the docs, too: a test token):
        # never keep them in any cache, so neither the back button nor a shared proxy can
        # show them again.
        response.headers["Cache-Control"] = "no-store"
    return response
