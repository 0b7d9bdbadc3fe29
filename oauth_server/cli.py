"""Operations commands: each calls a service and prints a result line."""

from __future__ import annotations

import click
from flask import Flask

from oauth_server.extensions import db


def register_commands(app: Flask) -> None:
    @app.cli.command("rotate-token-keys")
    def rotate_token_keys() -> None:
        """Retire the current sealing and signing keys and make new ones.

        Old keys keep verifying (and stay in the JWKS) until every token they made has
        expired; keys past that are deleted.
        """
        from oauth_server.services import services

        new = services().keyring.rotate(db.session())
        db.session.commit()
        click.echo(
            f"New token keys: {', '.join(new)}; previous keys kept until their tokens expire."
        )
