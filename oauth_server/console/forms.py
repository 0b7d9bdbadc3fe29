"""The console's forms (Flask-WTF: every POST carries a signed CSRF token).

Field names match the services' field names (``name``, ``scopes``, ``team_id``, …), so a
:class:`keys.errors.ValidationFailed` from a service lands next to the field it names.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    Field,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from keys.errors import ValidationFailed
from keys.limits import (
    DEFAULT_SIGNING_ALG,
    DEFAULT_TOKEN_TTL_SECONDS,
    MAX_EMAIL_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PASSWORD_LENGTH,
    MAX_TOKEN_TTL_SECONDS,
    MIN_PASSWORD_LENGTH,
    MIN_TOKEN_TTL_SECONDS,
    ROLES,
    SIGNING_ALGS,
    SigningAlg,
)
from keys.validation import email_problem, normalized_email
from oauth_server.console.clock import end_of_day_ms, viewer_today

ALL_TEAMS = ""

SIGNING_ALG_LABELS: dict[SigningAlg, str] = {
    "RS256": "RS256 (default) — every JWT library verifies it",
    "ES256": "ES256 — about a tenth of the signing cost",
}

#: Overlaps offered when rotating a secret (seconds → label), within
#: :data:`keys.limits.MAX_GRACE_SECONDS`.
OVERLAPS = [
    SelectChoice("0", "No overlap: the current secret stops working now"),
    SelectChoice("3600", "1 hour"),
    SelectChoice("86400", "1 day"),
    SelectChoice("604800", "7 days"),
    SelectChoice("2592000", "30 days"),
]


class LoginForm(FlaskForm):  # type: ignore[misc]
    # ``autocomplete`` lets password managers fill in the member's own account.
    email = EmailField(
        "Email",
        validators=[DataRequired("Enter your email."), Length(max=MAX_EMAIL_LENGTH)],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class SignOutForm(FlaskForm):  # type: ignore[misc]
    """Only the CSRF token."""


class ConfirmForm(FlaskForm):  # type: ignore[misc]
    """A confirmation: only the CSRF token, so no other site can make a member confirm."""


class TeamScopeMixin:
    team_id = SelectField(
        "Team", choices=[SelectChoice(ALL_TEAMS, "All teams")], validate_choice=True
    )

    def team_value(self) -> int | None:
        value = self.team_id.data  # type: ignore[attr-defined]
        return None if value in (None, ALL_TEAMS) else int(value)


class AppForm(TeamScopeMixin, FlaskForm):  # type: ignore[misc]
    """Register or edit an OAuth app."""

    name = StringField(
        "Name",
        validators=[DataRequired("Give the app a name."), Length(max=MAX_NAME_LENGTH)],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
    )
    scopes = SelectMultipleField("Permissions", choices=[], validate_choice=True)
    token_ttl_seconds = IntegerField(
        "Access token lifetime (seconds)",
        default=DEFAULT_TOKEN_TTL_SECONDS,
        validators=[
            InputRequired("Enter a lifetime in seconds."),
            NumberRange(
                MIN_TOKEN_TTL_SECONDS,
                MAX_TOKEN_TTL_SECONDS,
                f"Between {MIN_TOKEN_TTL_SECONDS} (1 minute) and "
                f"{MAX_TOKEN_TTL_SECONDS} (24 hours).",
            ),
        ],
    )
    token_format = RadioField(
        "Token format",
        choices=[
            SelectChoice("opaque", "Opaque (default)"),
            SelectChoice("jwt", "JWT (RFC 9068, signed)"),
        ],
        default="opaque",
    )
    jwt_signing_alg = RadioField(
        "JWT signing algorithm (JWT tokens only)",
        choices=[SelectChoice(alg, SIGNING_ALG_LABELS[alg]) for alg in SIGNING_ALGS],
        default=DEFAULT_SIGNING_ALG,
    )

    def validate_scopes(self, field: Field) -> None:
        if not field.data:
            raise ValidationError("Choose at least one permission.")


EXPIRY_CHOICES = [
    SelectChoice("never", "Never expires"),
    SelectChoice("date", "Expires at the end of a day"),
]


class KeyForm(TeamScopeMixin, FlaskForm):  # type: ignore[misc]
    """Create or edit an API key. Editing adds the choice to keep the current expiry."""

    name = StringField(
        "Name",
        validators=[DataRequired("Give the key a name."), Length(max=MAX_NAME_LENGTH)],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
    )
    scopes = SelectMultipleField("Permissions", choices=[], validate_choice=True)
    expiry = RadioField("Expiry", choices=EXPIRY_CHOICES, default="never")
    expires_on = DateField("Last day the key works", validators=[Optional()], format="%Y-%m-%d")

    def validate_scopes(self, field: Field) -> None:
        if not field.data:
            raise ValidationError("Choose at least one permission.")

    def validate_expires_on(self, field: Field) -> None:
        if self.expiry.data == "date" and field.data is not None and field.data < viewer_today():
            raise ValidationError("Choose today or a later day.")

    def validate(self, extra_validators: Any = None) -> bool:
        """An empty date stops at ``Optional()`` before the field's own check runs, so
        "Expires at the end of a day" without a day is caught here: it must not be read as
        "never" (which on edit would silently remove the key's expiry)."""
        valid: bool = super().validate(extra_validators)
        if self.expiry.data == "date" and self.expires_on.data is None:
            if not self.expires_on.errors:  # else it says why the day typed is no day
                self.expires_on.errors = ["Choose the last day the key works."]
            return False
        return valid

    def expires_at(self) -> int | None:
        """The chosen expiry in ms (None: never); only when ``expiry`` is not "keep"."""
        if self.expiry.data == "date" and self.expires_on.data is not None:
            return end_of_day_ms(self.expires_on.data)
        return None


class ReplaceForm(FlaskForm):  # type: ignore[misc]
    name = StringField(
        "Name of the new API key",
        validators=[DataRequired("Give the key a name."), Length(max=MAX_NAME_LENGTH)],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
    )


class RotateForm(FlaskForm):  # type: ignore[misc]
    grace_period_seconds = SelectField("Keep the current secret working for", choices=OVERLAPS)


class TeamForm(FlaskForm):  # type: ignore[misc]
    name = StringField(
        "Team name",
        validators=[DataRequired("Give the team a name."), Length(max=MAX_NAME_LENGTH)],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
    )


class MemberForm(FlaskForm):  # type: ignore[misc]
    email = EmailField(
        "Email",
        validators=[
            DataRequired("Enter the member's email."),
            Length(max=MAX_EMAIL_LENGTH),
        ],
        # Someone else's address and a new password: a password manager must neither fill
        # in the admin's own login here nor offer to save it as the admin's.
        render_kw={"autocomplete": "off"},
    )
    name = StringField(
        "Name",
        validators=[DataRequired("Enter the member's name."), Length(max=MAX_NAME_LENGTH)],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
    )
    role = SelectField(
        "Role",
        choices=[
            SelectChoice("member", "Member: sees only their own user keys"),
            SelectChoice("developer", "Developer: API keys, OAuth apps, audit log"),
            SelectChoice("admin", "Admin: everything, including teams and members"),
        ],
        default="member",
    )
    password = PasswordField(
        "Password (optional)",
        validators=[
            Optional(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=f"At least {MIN_PASSWORD_LENGTH} characters.",
            ),
        ],
        render_kw={"autocomplete": "new-password"},
    )

    def validate_email(self, field: Field) -> None:
        problem = email_problem(normalized_email(field.data or ""))
        if problem is not None:
            raise ValidationError(problem)

    def validate_role(self, field: Field) -> None:
        if field.data not in ROLES:
            raise ValidationError("Choose a role.")


def show_errors(form: FlaskForm, error: ValidationFailed) -> None:
    """Put a service's field errors next to the form's fields; others above the form."""
    for item in error.errors:
        field: Any = getattr(form, item.field, None)
        if isinstance(field, Field):
            field.errors = [*field.errors, item.message]
        else:
            form.form_errors.append(f"{item.field}: {item.message}")
    if not error.errors:
        form.form_errors.append(error.message)


class WebhookForm(FlaskForm):  # type: ignore[misc]
    """Register a webhook endpoint. The ``auth_*`` fields are the API's ``auth.*``; the
    service checks which of them the chosen type needs."""

    url = StringField(
        "Endpoint URL",
        validators=[DataRequired("Enter the https:// URL of your endpoint.")],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
    )
    description = StringField("Description (optional)", validators=[Optional()])
    events = SelectMultipleField("Events", choices=[], validate_choice=True)
    auth_type = RadioField(
        "How Latchkey authenticates to your endpoint",
        choices=[
            SelectChoice("none", "No authentication (verify our signature only)"),
            SelectChoice("api_key", "API key in a header"),
            SelectChoice("oauth2_client_credentials", "OAuth 2.0 client credentials"),
        ],
        default="none",
    )
    auth_header = StringField("Header name", default="X-API-Key")
    auth_value = PasswordField("API key")
    auth_token_url = StringField("Token URL")
    auth_client_id = StringField("Client ID")
    auth_client_secret = PasswordField("Client secret")
    auth_scope = StringField("Scope (optional)")

    def validate_events(self, field: Field) -> None:
        if not field.data:
            raise ValidationError("Choose at least one event, or all events.")
