"""Request and response schemas of the management API, declared once.

They validate requests (strictly: no coercion of "3" into 3, no unknown fields) and are
the source of the OpenAPI document's component schemas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from keys import api_keys, items
from keys.limits import (
    DEFAULT_SIGNING_ALG,
    DEFAULT_TOKEN_TTL_SECONDS,
    MAX_EMAIL_LENGTH,
    MAX_GRACE_SECONDS,
    MAX_NAME_LENGTH,
    MAX_PASSWORD_LENGTH,
    MAX_RECORD_ID,
    MAX_TOKEN_TTL_SECONDS,
    MIN_PASSWORD_LENGTH,
    MIN_TOKEN_TTL_SECONDS,
    KeyStatus,
    Role,
    SigningAlg,
    Status,
    TokenFormat,
)
from keys.models import ApiKey, ApiSession, OAuthApp, Org, ResourceServer, Team, User, UserKey
from keys.validation import control_problem, email_problem, name_problem, normalized_email
from keys.webhooks.addresses import MAX_URL_LENGTH
from keys.webhooks.catalog import MAX_EVENTS
from keys.webhooks.endpoints import MAX_SECRET_LENGTH, ReceiverAuth, endpoint_item
from keys.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent


def _rule(problem_of: Callable[[str], str | None]) -> AfterValidator:
    """One of :mod:`keys.validation`'s rules as a field validator: the services check names
    again (:func:`keys.validation.checked_name`), but here a bad value is reported with the
    body's other field errors, and never reaches a query."""

    def check(value: str) -> str:
        problem = problem_of(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_LENGTH),
    _rule(name_problem),
]
Email = Annotated[
    str,
    StringConstraints(max_length=MAX_EMAIL_LENGTH),
    AfterValidator(normalized_email),
    _rule(email_problem),
]
Ms = Annotated[int, Field(description="milliseconds since the epoch")]
Password = Annotated[
    str, StringConstraints(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
]
#: A larger number than a record id can be names nothing: a validation error.
Id = Annotated[int, Field(ge=1, le=MAX_RECORD_ID)]
MsQuery = Annotated[int, Field(ge=0, le=2**63 - 1)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Query strings are text: these are parsed leniently ("20" is 20)."""

    model_config = ConfigDict(extra="ignore")


class PageQuery(Query):
    limit: int = Field(50, ge=1, le=200, description="items per page (1-200)")
    cursor: int | None = Field(
        None, ge=1, le=MAX_RECORD_ID, description="from the previous page's Link: rel=next"
    )


class Ok(BaseModel):
    ok: Literal[True] = True


# -- sessions ---------------------------------------------------------------------------------


class SessionCreate(Request):
    email: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=3, max_length=MAX_EMAIL_LENGTH)
    ]
    password: Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_LENGTH)]


class SessionOut(BaseModel):
    token: str = Field(description="the session token; shown once")
    expires_at: Ms

    @classmethod
    def of(cls, row: ApiSession, token: str) -> SessionOut:
        return cls(token=token, expires_at=row.expires_at)


# -- orgs, users, teams -----------------------------------------------------------------------


class OrgCreate(Request):
    name: Name
    api_access: bool = True


class OrgUpdate(Request):
    name: Name | None = None
    api_access: bool | None = None


class OrgOut(BaseModel):
    id: int
    name: str
    api_access: bool
    created_at: Ms
    updated_at: Ms

    @classmethod
    def of(cls, org: Org) -> OrgOut:
        return cls(
            id=org.id,
            name=org.name,
            api_access=org.api_access,
            created_at=org.created_at,
            updated_at=org.updated_at,
        )


class UserCreate(Request):
    email: Email
    name: Name
    role: Role
    org_id: Id | None = Field(
        None, description="default: your own org; platform admins may name any"
    )
    password: Password | None = Field(None, description="without one the member cannot log in")


class UserOut(BaseModel):
    id: int
    org_id: int
    email: str
    name: str
    role: str
    is_platform_admin: bool
    can_log_in: bool
    created_at: Ms

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            org_id=user.org_id,
            email=user.email,
            name=user.name,
            role=user.role,
            is_platform_admin=user.is_platform_admin,
            can_log_in=user.password_hash is not None,
            created_at=user.created_at,
        )


class TeamCreate(Request):
    name: Name


class TeamOut(BaseModel):
    id: int
    name: str
    created_at: Ms

    @classmethod
    def of(cls, team: Team) -> TeamOut:
        return cls(id=team.id, name=team.name, created_at=team.created_at)


class UsersQuery(PageQuery):
    org_id: Id | None = Field(None, description="platform admins: another org's members")


# -- OAuth apps -------------------------------------------------------------------------------

Scopes = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=100)]], Field(max_length=100)
]
TokenTtl = Annotated[
    int,
    Field(
        ge=MIN_TOKEN_TTL_SECONDS,
        le=MAX_TOKEN_TTL_SECONDS,
        description="access token lifetime, 60 s - 24 h",
    ),
]
JwtSigningAlg = Annotated[
    SigningAlg,
    Field(
        description="JWS algorithm of the app's JWT access tokens: RS256 (RFC 9068's baseline, "
        "every JWT library verifies it) or ES256 (a tenth of the signing cost)"
    ),
]


class AppCreate(Request):
    name: Name
    scopes: Scopes = Field(description="from the scope catalog (GET /api/scopes)")
    team_id: Id | None = Field(None, description="one team, or null for all teams")
    token_ttl_seconds: TokenTtl = DEFAULT_TOKEN_TTL_SECONDS
    token_format: TokenFormat = "opaque"
    jwt_signing_alg: JwtSigningAlg = DEFAULT_SIGNING_ALG


class AppUpdate(Request):
    name: Name | None = None
    scopes: Scopes | None = None
    team_id: Id | None = None
    token_ttl_seconds: TokenTtl | None = None
    token_format: TokenFormat | None = None
    jwt_signing_alg: JwtSigningAlg | None = None


class RotateSecret(Request):
    grace_period_seconds: int = Field(
        0,
        ge=0,
        le=MAX_GRACE_SECONDS,
        description="how long the old secret keeps working (0 - 30 days)",
    )


class AppOut(BaseModel):
    id: int
    name: str
    client_id: str
    prefix: str = Field(description="display prefix of the client secret; never authenticates")
    hint: str = Field(description="last 4 characters of the current client secret")
    scopes: list[str]
    team_id: int | None
    token_ttl_seconds: int
    token_format: str
    jwt_signing_alg: str
    status: Status
    created_at: Ms
    created_by: int | None
    updated_at: Ms
    revoked_at: Ms | None
    previous_secret_expires_at: Ms | None

    @classmethod
    def of(cls, app: OAuthApp) -> AppOut:
        return cls(**items.app_item(app))


class AppWithSecretOut(AppOut):
    client_secret: str = Field(description="shown once; store it now")


class AppsQuery(PageQuery):
    status: Literal[Status, "all"] = "all"
    team_id: Id | None = None


# -- API keys ---------------------------------------------------------------------------------

ExpiresAt = Annotated[
    int, Field(ge=1, le=2**53, description="milliseconds since the epoch; in the future")
]


class KeyCreate(Request):
    name: Name
    scopes: Scopes = Field(description="from the scope catalog (GET /api/scopes)")
    team_id: Id | None = Field(None, description="one team, or null for all teams")
    expires_at: ExpiresAt | None = Field(None, description="null: never expires")


class KeyUpdate(Request):
    name: Name | None = None
    scopes: Scopes | None = None
    team_id: Id | None = None
    expires_at: ExpiresAt | None = None


class TemporaryKeyCreate(Request):
    scopes: Scopes | None = Field(None, description="default: the catalog's read scopes")


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="display prefix; shown in logs, never authenticates")
    hint: str = Field(description="last 4 characters of the current secret")
    scopes: list[str]
    team_id: int | None
    status: KeyStatus
    created_at: Ms
    created_by: int | None = Field(description="the member who made it (null: an API key)")
    updated_at: Ms
    expires_at: Ms | None
    revoked_at: Ms | None
    last_used_at: Ms | None
    last_used_ip: str | None
    usage_count: int
    temporary: bool
    previous_secret_expires_at: Ms | None = Field(
        description="while a rotation's overlap lasts: when the old secret stops"
    )

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls(**items.api_key_item(key))


class KeyWithSecretOut(KeyOut):
    key: str = Field(description="the API key; shown once, store it now")

    @classmethod
    def of_new(cls, result: api_keys.KeyWithSecret) -> KeyWithSecretOut:
        return cls(**KeyOut.of(result.key).model_dump(), key=result.plaintext)


class KeysQuery(PageQuery):
    status: Literal[KeyStatus, "all"] = "active"
    team_id: Id | None = Field(None, description="keys bound to this team (not all-teams keys)")


# -- user keys --------------------------------------------------------------------------------


class UserKeyOwner(BaseModel):
    id: int
    email: str
    name: str


class UserKeyOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="a handle made on import; the token itself has no prefix")
    hint: str = Field(description="last 4 characters of the token")
    owner: UserKeyOwner
    scopes: list[str]
    team_id: int | None
    status: Status
    created_at: Ms
    last_used_at: Ms | None
    last_used_ip: str | None
    usage_count: int
    revoked_at: Ms | None
    replaced_by: int | None = Field(description="the API key made to replace it, if any")

    @classmethod
    def of(cls, key: UserKey) -> UserKeyOut:
        return cls(**items.user_key_item(key))


class UserKeysQuery(PageQuery):
    status: Literal[Status, "all"] = "all"


class UserKeyReplace(Request):
    name: Name | None = Field(None, description="the new API key's name")


# -- resource servers -------------------------------------------------------------------------


class ResourceServerCreate(Request):
    name: Name
    audience: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=r"^\S+$"),
        _rule(control_problem),
    ] = Field(description="the URI that names this API in tokens' `aud` (RFC 8707 resource)")


class ResourceServerOut(BaseModel):
    id: int
    name: str
    audience: str
    client_id: str
    prefix: str
    hint: str
    status: Status
    created_at: Ms

    @classmethod
    def of(cls, server: ResourceServer) -> ResourceServerOut:
        return cls(
            id=server.id,
            name=server.name,
            audience=server.audience,
            client_id=server.client_id,
            prefix=server.secret_prefix,
            hint=server.secret_hint,
            status="revoked" if server.revoked_at else "active",
            created_at=server.created_at,
        )


class ResourceServerWithSecretOut(ResourceServerOut):
    client_secret: str = Field(description="shown once; store it now")


# -- scopes and audit -------------------------------------------------------------------------


class ScopeOut(BaseModel):
    name: str
    resource: str
    description: str


class AuditQuery(PageQuery):
    action: str | None = Field(None, description="exact action, e.g. app.revoked")
    actor: str | None = Field(None, description="actor email, key prefix or id")
    target: str | None = Field(None, description="prefix of the target's name, prefix or id")
    since: MsQuery | None = Field(None, description="from this time (ms), inclusive")
    until: MsQuery | None = Field(None, description="before this time (ms)")


class AuditActor(BaseModel):
    type: str
    id: int | None = Field(
        description="the member's or API key's id; null: the system, or "
        "an anonymous sign-in attempt"
    )
    email: str | None = None
    prefix: str | None = None


class AuditTarget(BaseModel):
    type: str
    id: int | None = Field(
        description="the id of the record, as its own endpoint shows it; null: a failed sign-in"
    )
    name: str | None
    prefix: str | None


class AuditEventOut(BaseModel):
    id: int
    at: Ms
    action: str
    actor: AuditActor
    target: AuditTarget
    ip: str | None
    user_agent: str | None
    details: dict[str, object]


# -- webhooks ---------------------------------------------------------------------------------

WebhookUrl = Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL_LENGTH)]
ShortText = Annotated[str, StringConstraints(max_length=MAX_SECRET_LENGTH)]


class WebhookAuthIn(Request):
    """How Latchkey authenticates to the receiver. ``api_key``: ``header`` and ``value``
    (sent as ``<header>: <value>``). ``oauth2_client_credentials``: ``token_url``,
    ``client_id``, ``client_secret``, optional ``scope``. On PATCH, a ``value`` or
    ``client_secret`` left out keeps the stored one (same type only)."""

    type: Literal["none", "api_key", "oauth2_client_credentials"]
    header: ShortText | None = None
    value: ShortText | None = Field(None, description="kept encrypted; never shown again")
    token_url: WebhookUrl | None = None
    client_id: ShortText | None = None
    client_secret: ShortText | None = Field(None, description="kept encrypted; never shown again")
    scope: ShortText | None = None

    def receiver_auth(self) -> ReceiverAuth:
        return ReceiverAuth(**self.model_dump())


EventTypes = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=100)]],
    Field(max_length=MAX_EVENTS, description='event types, or ["*"] for all'),
]


class WebhookCreate(Request):
    url: WebhookUrl = Field(description="https:// and a public address")
    events: EventTypes
    description: ShortText | None = None
    auth: WebhookAuthIn


class WebhookUpdate(Request):
    url: WebhookUrl | None = None
    events: EventTypes | None = None
    description: ShortText | None = None
    auth: WebhookAuthIn | None = None
    enabled: bool | None = Field(
        None, description="true: deliver again to a disabled endpoint; false: pause it"
    )


class WebhookAuthOut(BaseModel):
    type: str
    header: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    scope: str | None = None


class WebhookOut(BaseModel):
    id: int
    url: str
    description: str | None
    events: list[str]
    auth: WebhookAuthOut = Field(description="without the receiver's secret")
    status: Literal["active", "disabled"]
    disabled_at: Ms | None
    failing_since: Ms | None = Field(description="first failed attempt since the last success")
    created_at: Ms
    created_by: int | None
    updated_at: Ms
    previous_secret_expires_at: Ms | None = Field(
        description="after a rotation: until then the old signing secret also signs"
    )

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> WebhookOut:
        return cls(**endpoint_item(endpoint))


class WebhookWithSecretOut(WebhookOut):
    signing_secret: str = Field(description="whsec_…: verifies our signatures; shown once")


class DeliveryOut(BaseModel):
    id: int
    event_id: str = Field(description="the webhook-id header: the same on every attempt")
    type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    latency_ms: int | None = Field(description="of the last attempt")
    last_error: str | None
    last_attempt_at: Ms | None
    next_retry_at: Ms | None
    created_at: Ms
    delivered_at: Ms | None

    @classmethod
    def of(cls, delivery: WebhookDelivery, event: WebhookEvent) -> DeliveryOut:
        return cls(
            id=delivery.id,
            event_id=event.uid,
            type=event.type,
            status=delivery.status,  # type: ignore[arg-type]
            attempts=delivery.attempts,
            last_status_code=delivery.last_status_code,
            latency_ms=delivery.last_latency_ms,
            last_error=delivery.last_error,
            last_attempt_at=delivery.last_attempt_at,
            next_retry_at=delivery.next_attempt_at if delivery.status == "pending" else None,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
        )
