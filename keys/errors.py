"""Domain errors: a machine-readable code and a message the user can act on.

The web layer renders them (problem details on ``/api``, HTML on the console); nothing here
knows about HTTP beyond the status each code maps to.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


@dataclass
class DomainError(Exception):
    """Base of every error the lifecycle services raise on purpose."""

    message: str
    code: str = "error"
    status: int = 400
    title: str = "Bad request"

    def __str__(self) -> str:
        return self.message


@dataclass
class ValidationFailed(DomainError):
    """A well-formed request that breaks a rule; ``errors`` names each field."""

    errors: list[FieldError] = field(default_factory=list)
    code: str = "validation-error"
    status: int = 422
    title: str = "Validation failed"

    @classmethod
    def one(cls, field_name: str, message: str) -> ValidationFailed:
        return cls(message=f"{field_name}: {message}", errors=[FieldError(field_name, message)])


@dataclass
class NotFound(DomainError):
    code: str = "not-found"
    status: int = 404
    title: str = "Not found"


@dataclass
class Conflict(DomainError):
    code: str = "conflict"
    status: int = 409
    title: str = "Conflict"


@dataclass
class Forbidden(DomainError):
    code: str = "forbidden"
    status: int = 403
    title: str = "Forbidden"


@dataclass
class UpgradeRequired(DomainError):
    message: str = "This organization's plan does not include API access. Upgrade to use it."
    code: str = "upgrade-required"
    status: int = 403
    title: str = "Upgrade required"
