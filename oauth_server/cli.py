"""Operations commands: each calls a service and prints a result line."""

from __future__ import annotations

import csv
import signal
from typing import IO

import click
from flask import Flask

from keys import directory, retention, user_keys
from keys.audit import Actor
from keys.errors import DomainError, ValidationFailed
from oauth_server.extensions import db
from oauth_server.services import services


def register_commands(app: Flask) -> None:
    @app.cli.command("rotate-token-keys")
    def rotate_token_keys() -> None:
        """Retire the current sealing and signing keys and make new ones.

        Old keys keep verifying (and stay in the JWKS) until every token they made has
        expired; keys past that are deleted.
        """
        new = services().keyring.rotate(db.session())
        db.session.commit()
        click.echo(
            f"New token keys: {', '.join(new)}; previous keys kept until their tokens expire."
        )

    @app.cli.command("worker")
    def worker() -> None:
        """Deliver webhooks until stopped (SIGTERM or Ctrl-C finishes the attempt under way).

        Run any number: on PostgreSQL they share the work (rows claimed with SKIP LOCKED); on
        SQLite one delivers at a time (a lease in the database), the others stand by. The
        embedded default delivers from the server process too, unless
        LATCHKEY_WEBHOOK_DELIVERY=worker.
        """
        from oauth_server.webhooks import make_worker

        delivery = make_worker(app)

        def stop(signum: int, frame: object) -> None:
            delivery.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        click.echo(f"Delivering webhooks as {delivery.holder}; stop with Ctrl-C or SIGTERM.")
        delivery.run_forever()
        click.echo("Stopped; every attempt under way was finished.")

    @app.cli.command("invalidate-caches")
    def invalidate_caches() -> None:
        """Make every Latchkey process drop its cached credential state.

        Every change made through Latchkey does this by itself; run it after changing
        credential rows in the database by hand.
        """
        services().state.stamp.bump()
        click.echo("Every process will read credential state from the database again.")

    @app.cli.command("prune")
    @click.option(
        "--batch-size",
        type=click.IntRange(1, 100_000),
        default=retention.BATCH_ROWS,
        show_default=True,
        help="rows deleted per statement",
    )
    def prune(batch_size: int) -> None:
        """Delete rows that have outlived their use: revoked token ids of expired tokens,
        and sign-in sessions that ended more than a day ago.

        In batches (each its own transaction), so it is safe to run while Latchkey serves,
        from cron or a scheduled job; prints how many rows of each kind went.
        """
        for pruner in retention.PRUNERS:
            deleted = pruner.prune(db.session(), batch_size)
            click.echo(f"{pruner.label}: {deleted} deleted")

    @app.cli.command("import-user-keys")
    @click.option("--org", "org_id", type=int, required=True, help="the organization's id")
    @click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
    def import_user_keys(org_id: int, csv_file: IO[str]) -> None:
        """Import legacy user keys from CSV_FILE (columns email,name,token,created_at,scopes;
        optional team_id).

        All rows or none: every row is checked first, and any problem is reported by line
        and column with nothing imported. Tokens are stored as keyed hashes only, and the
        file is not copied. Unknown emails become members who cannot log in yet; tokens
        already imported are skipped, so a rerun is harmless.
        """
        try:
            directory.get_org(db.session, org_id)
            report = user_keys.import_rows(
                db.session,
                services().core,
                org_id=org_id,
                rows=user_keys.read_csv(csv_file),
                actor=Actor.system("import-user-keys"),
            )
        except ValidationFailed as exc:
            db.session.rollback()
            for error in exc.errors:
                click.echo(f"  {error.field}: {error.message}", err=True)
            raise click.ClickException(
                exc.message if len(exc.errors) > 1 else "nothing was imported."
            ) from None
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from None
        except (UnicodeDecodeError, csv.Error) as exc:
            db.session.rollback()
            raise click.ClickException(f"{csv_file.name} is not a UTF-8 CSV file: {exc}") from None
        db.session.commit()
        members = report.members_created
        click.echo(
            f"Imported {report.imported} user key(s) into organization {org_id}; "
            f"{report.already_imported} already imported; "
            f"{len(members)} new member(s) without a password"
            + (f" ({', '.join(members)})." if members else ".")
        )
