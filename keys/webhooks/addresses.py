"""The outbound-address rule: webhooks go to public HTTPS addresses only.

A customer chooses the URL, so without this rule Latchkey could be made to send requests
into the operator's own network (SSRF): to loopback, to private ranges, to the cloud's
link-local metadata service. A URL is checked when it is registered and again before every
request, and the request goes to the very address that was checked (:func:`pin`): a name
that resolved to a public address at the check cannot be re-pointed to a private one between
the check and the connection (DNS rebinding). ``allow_private`` (the deployment's
``LATCHKEY_WEBHOOK_ALLOW_PRIVATE=1``) lifts the rule and allows ``http://``, for development
and tests only.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from socket import getaddrinfo
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048


class AddressRefused(Exception):
    """The URL may not receive webhooks; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Pinned:
    """Where one request goes: the URL's host (for ``Host``, SNI and the certificate check)
    and the checked address to connect to."""

    scheme: str
    host: str
    port: int
    address: str


def is_public(address: str) -> bool:
    """A globally routable unicast address: not loopback, private, link-local, shared
    (CGNAT), multicast, reserved or unspecified. An IPv4 address written as IPv6 counts as
    the IPv4 address it is."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow_private: bool, field: str = "url") -> tuple[str, str, int]:
    """The scheme, host and port of a URL that may receive webhooks (its address is not
    looked at: see :func:`pin`)."""
    if len(url) > MAX_URL_LENGTH:
        raise AddressRefused(f"{field} is longer than {MAX_URL_LENGTH} characters.")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise AddressRefused(f"{field} may not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AddressRefused(f"{field} is not a valid URL ({exc}).") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise AddressRefused(f"{field} must be an https:// URL.")
    if not parts.hostname:
        raise AddressRefused(f"{field} has no host.")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused(
            f"{field} may not carry credentials; use auth (api_key or "
            "oauth2_client_credentials) instead."
        )
    if parts.fragment:
        raise AddressRefused(f"{field} may not have a #fragment.")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def pin(url: str, allow_private: bool, field: str = "url") -> Pinned:
    """Resolve the URL's host once and choose the address to connect to; refused when any
    address the name resolves to is not public (a name with one private address among public
    ones could be made to connect there)."""
    scheme, host, port = check_url(url, allow_private, field)
    try:
        infos = getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise AddressRefused(
            f"{field}'s host {host} could not be resolved; check the name."
        ) from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise AddressRefused(f"{field}'s host {host} could not be resolved; check the name.")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise AddressRefused(
                    f"{field}'s host {host} resolves to {address}, which is not a public "
                    "address; webhooks are only sent to public https:// endpoints."
                )
    return Pinned(scheme, host, port, addresses[0])
