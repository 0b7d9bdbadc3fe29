"""The Webhooks tab: register endpoints, see their deliveries, send a test event, redeliver,
rotate the signing secret, enable a disabled endpoint, delete.

Developers see the tab; admins act (as on ``/api/webhooks``). A new or rotated signing
secret is shown once, like a key (:mod:`oauth_server.console.reveal`).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from keys.errors import FieldError, ValidationFailed
from keys.webhooks import catalog, endpoints
from keys.webhooks.endpoints import ReceiverAuth
from keys.webhooks.models import WebhookEndpoint
from oauth_server.console import actions, bp, reveal
from oauth_server.console.forms import ConfirmForm, WebhookForm, show_errors
from oauth_server.console.guards import ADMINS, MANAGERS, actor, page, signed_in
from oauth_server.console.listing import list_query, pages
from oauth_server.extensions import db
from oauth_server.services import services

LIST = "console.webhooks"
BASE = "/settings/api-access/webhooks"

Page = str | tuple[str, int]


def _form() -> WebhookForm:
    form = WebhookForm()
    form.events.choices = [SelectChoice(catalog.ALL, "All events")] + [
        SelectChoice(t, t) for group in catalog.GROUPS.values() for t in group
    ]
    return form


def _allow_private() -> bool:
    return bool(current_app.config["LATCHKEY_WEBHOOK_ALLOW_PRIVATE"])


def _render(
    *,
    dialog: str | None = None,
    target: WebhookEndpoint | None = None,
    status: int = 200,
    **forms: Any,
) -> Page:
    query = list_query(("all",), "all")
    items, cursor = endpoints.list_page(
        db.session, signed_in().org_id, limit=query.limit, cursor=query.cursor
    )
    if dialog is None:
        forms["create_form"] = _form()
    html = render_template(
        "console/webhooks.html",
        webhooks=items,
        pages=pages(LIST, cursor),
        event_groups=catalog.GROUPS,
        dialog=dialog,
        target=target,
        secret=reveal.pop() if dialog is None else None,
        **forms,
    )
    return (html, status) if status != 200 else html


def _get(webhook_id: int) -> WebhookEndpoint:
    return endpoints.get(db.session, signed_in().org_id, webhook_id)


def _one_time_secret(title: str, endpoint: WebhookEndpoint, secret: str) -> reveal.OneTimeSecret:
    return reveal.OneTimeSecret(
        title=title, name=endpoint.url, secret_label="Signing secret", secret=secret
    )


def _form_field(field: str) -> str:
    """The form's name of a service field: ``auth.header`` is ``auth_header``."""
    return field.replace(".", "_")


@bp.get(BASE, endpoint="webhooks")
@page(MANAGERS, api_access=True)
def list_webhooks() -> Page:
    return _render()


@bp.get(f"{BASE}/new")
@page(ADMINS, api_access=True)
def new_webhook() -> Page:
    return _render(dialog="create", create_form=_form())


@bp.post(BASE)
@page(ADMINS, api_access=True)
def create_webhook() -> Page | Response:
    user = signed_in()
    form = _form()
    if form.validate_on_submit():
        auth = ReceiverAuth(
            type=form.auth_type.data,
            header=form.auth_header.data or None,
            value=form.auth_value.data or None,
            token_url=form.auth_token_url.data or None,
            client_id=form.auth_client_id.data or None,
            client_secret=form.auth_client_secret.data or None,
            scope=form.auth_scope.data or None,
        )
        try:
            made = endpoints.create(
                db.session,
                services().keyring,
                org_id=user.org_id,
                actor=actor(),
                created_by=user.id,
                url=form.url.data,
                events=form.events.data,
                description=form.description.data or None,
                auth=auth,
                allow_private=_allow_private(),
            )
            db.session.commit()
        except ValidationFailed as error:
            db.session.rollback()
            show_errors(
                form,
                ValidationFailed(
                    message=error.message,
                    errors=[FieldError(_form_field(e.field), e.message) for e in error.errors],
                ),
            )
        else:
            reveal.stash(_one_time_secret("Webhook registered", made.endpoint, made.signing_secret))
            return redirect(url_for(LIST))
    return _render(dialog="create", create_form=form, status=422)


@bp.get(f"{BASE}/<id:webhook_id>/deliveries")
@page(MANAGERS, api_access=True)
def webhook_deliveries(webhook_id: int) -> Page:
    endpoint = _get(webhook_id)
    query = list_query(("all",), "all")
    rows, cursor = endpoints.deliveries_page(
        db.session, endpoint, limit=query.limit, cursor=query.cursor
    )
    return render_template(
        "console/webhook_deliveries.html",
        webhook=endpoint,
        deliveries=rows,
        pages=pages("console.webhook_deliveries", cursor, webhook_id=webhook_id),
        form=ConfirmForm(),
    )


@bp.post(f"{BASE}/<id:webhook_id>/test")
@page(ADMINS, api_access=True)
def test_webhook(webhook_id: int) -> Response:
    endpoint = _get(webhook_id)
    if ConfirmForm().validate_on_submit():
        endpoints.send_test(db.session, endpoint, actor())
        db.session.commit()
        flash("Test event queued: it appears below within seconds.", "success")
    return redirect(url_for("console.webhook_deliveries", webhook_id=webhook_id))


@bp.post(f"{BASE}/<id:webhook_id>/deliveries/<id:delivery_id>/redeliver")
@page(ADMINS, api_access=True)
def redeliver_webhook(webhook_id: int, delivery_id: int) -> Response:
    endpoint = _get(webhook_id)
    if ConfirmForm().validate_on_submit():
        endpoints.redeliver(db.session, endpoint, delivery_id)
        db.session.commit()
        flash("Queued again, with the same webhook-id.", "success")
    return redirect(url_for("console.webhook_deliveries", webhook_id=webhook_id))


@bp.post(f"{BASE}/<id:webhook_id>/enable")
@page(ADMINS, api_access=True)
def enable_webhook(webhook_id: int) -> Response:
    endpoint = _get(webhook_id)
    if ConfirmForm().validate_on_submit():
        endpoints.update(
            db.session, services().keyring, endpoint, actor(), {"enabled": True}, _allow_private()
        )
        db.session.commit()
        flash(f"Enabled {endpoint.url}: its pending events are sent now.", "success")
    return redirect(url_for(LIST))


@bp.route(f"{BASE}/<id:webhook_id>/rotate", methods=["GET", "POST"])
@page(ADMINS, api_access=True)
def rotate_webhook(webhook_id: int) -> Page | Response:
    endpoint = _get(webhook_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _render(dialog="rotate", target=endpoint, confirm_form=form)
    secret = endpoints.rotate_secret(db.session, services().keyring, endpoint, actor())
    db.session.commit()
    reveal.stash(_one_time_secret("Signing secret rotated", endpoint, secret))
    return redirect(url_for(LIST))


@bp.route(f"{BASE}/<id:webhook_id>/delete", methods=["GET", "POST"])
@page(ADMINS, api_access=True)
def delete_webhook(webhook_id: int) -> Page | Response:
    endpoint = _get(webhook_id)
    return actions.confirmed(
        "delete",
        endpoint,
        _render,
        LIST,
        act=lambda: endpoints.delete(db.session, endpoint, actor()),
        done=f"Deleted the webhook to {endpoint.url}. Its audit events remain.",
    )
