"""Latchkey's OAuth errors beyond the ones Authlib defines, each in RFC 6749 §5.2's shape and
rendered by Authlib's own error response."""

from __future__ import annotations

from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import InvalidClientError, OAuth2Error


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the requested resource is invalid, unknown, or malformed."""

    error = "invalid_target"
    status_code = 400


class UnsupportedTokenTypeError(OAuth2Error):
    """RFC 7009 §2.2.1: this server does not revoke the presented kind of token here.

    Authlib's own class is a 401 with a challenge; RFC 7009 answers it as RFC 6749 §5.2 does
    every error of a client that did authenticate: 400."""

    error = "unsupported_token_type"
    status_code = 400


class ClientAuthenticationFailed(InvalidClientError):
    """RFC 6749 §5.2 ``invalid_client`` as a 401 whose Basic challenge carries the ``realm``
    that RFC 7617 §2 requires (Authlib's challenge has none)."""

    status_code = 401

    def __init__(self, realm: str) -> None:
        super().__init__(
            description="Client authentication failed: unknown client ID, wrong secret, or a "
            "revoked client. Send the client ID and secret with HTTP Basic or in the body."
        )
        self.realm = realm

    def get_headers(self) -> list[tuple[str, str]]:
        challenge = (
            f'Basic realm="{self.realm}", error="{self.error}", '
            f'error_description="{self.get_error_description()}"'
        )
        return [*OAuth2Error.get_headers(self), ("WWW-Authenticate", challenge)]


def quoted(value: str) -> str:
    """``value`` quoted for an ``error_description``, or a placeholder when it holds characters
    RFC 6749 §5.2 forbids there (Authlib refuses to build such an error: a 500 instead of
    the 400 the client's typo deserves)."""
    if len(value) > 100 or invalid_error_characters(value):
        return "(a malformed value)"
    return f"'{value}'"
