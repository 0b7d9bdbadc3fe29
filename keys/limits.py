"""Latchkey's business limits, each defined once: the services enforce them, and the API's
schemas, the OpenAPI document and the console's forms read them from here.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

#: Members' roles: ``admin`` everything in the org, ``developer`` API keys, OAuth apps and the
#: audit log, ``member`` their own user keys.
Role = Literal["admin", "developer", "member"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)

#: Names of keys, apps, teams, orgs, members and resource servers.
MAX_NAME_LENGTH: Final = 100
#: RFC 5321 §4.5.3.1.3's longest path, less its angle brackets.
MAX_EMAIL_LENGTH: Final = 254
#: Console passwords (argon2id-hashed). The upper bound keeps a hash from costing more than
#: a sign-in should.
MIN_PASSWORD_LENGTH: Final = 12
MAX_PASSWORD_LENGTH: Final = 1024

#: Access-token lifetimes an app may choose (DESIGN.md: 60 s - 24 h, default 15 minutes).
MIN_TOKEN_TTL_SECONDS: Final = 60
MAX_TOKEN_TTL_SECONDS: Final = 24 * 3600
DEFAULT_TOKEN_TTL_SECONDS: Final = 15 * 60

TokenFormat = Literal["opaque", "jwt"]
TOKEN_FORMATS: Final[tuple[TokenFormat, ...]] = get_args(TokenFormat)

#: JWS algorithms of JWT access tokens: RS256 is RFC 9068's baseline (every JWT library
#: verifies it), ES256 costs about a tenth of its signature.
SigningAlg = Literal["RS256", "ES256"]
SIGNING_ALGS: Final[tuple[SigningAlg, ...]] = get_args(SigningAlg)
DEFAULT_SIGNING_ALG: Final[SigningAlg] = "RS256"

#: How long a rotated secret may keep working beside its successor.
MAX_GRACE_SECONDS: Final = 30 * 24 * 3600

#: An API key's status; apps, resource servers and user keys are only active or revoked.
KeyStatus = Literal["active", "revoked", "expired"]
KEY_STATUSES: Final[tuple[KeyStatus, ...]] = get_args(KeyStatus)
Status = Literal["active", "revoked"]
STATUSES: Final[tuple[Status, ...]] = get_args(Status)
#: What list filters accept beside a status.
ALL: Final = "all"

#: Record ids are 32-bit database integers: a larger number names nothing (and would make
#: PostgreSQL raise instead of finding nothing).
MAX_RECORD_ID: Final = 2**31 - 1
