"""users: emails normalized (NFKC, casefolded)

Revision ID: 5e8b1c0d7a42
Revises: 7c2d9e41a0b3
Create Date: 2026-12-04 18:00:00.000000

Emails were stored trimmed and lower-cased (str.lower), and every way in now compares them
as keys.validation.normalized_email gives them: Unicode NFKC, trimmed, casefolded. For ASCII
addresses the two are the same, so this changes nothing on most databases. An address that
differs (fullwidth letters, "ß", ligatures) is rewritten, or its member could no longer sign
in. The rule is copied here as it is at this revision: a migration must not change meaning
when the code does.

Two members whose addresses become one (a look-alike account: "ada@example.com" beside its
fullwidth twin) cannot be merged by a migration: they may be in different orgs, with their
own keys. The one stored in the normal form already keeps the address (else the older one);
the other is left as stored, which no sign-in reaches any more, and is named in a warning so
that the operator renames or removes it.
Addresses holding invisible characters, refused for new members from now on, are named too.
"""
import logging
import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e8b1c0d7a42'
down_revision = '7c2d9e41a0b3'
branch_labels = None
depends_on = None

log = logging.getLogger('alembic.runtime.migration')


def _normalized(email):
    return unicodedata.normalize('NFKC', email).strip().casefold()


def upgrade():
    conn = op.get_bind()
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('email', sa.String))
    rows = conn.execute(sa.select(users.c.id, users.c.email).order_by(users.c.id)).all()
    taken = {email for _, email in rows if email == _normalized(email)}
    for user_id, email in rows:
        if any(unicodedata.category(c) == 'Cf' for c in email):
            log.warning('user %s: the email %r holds invisible characters', user_id, email)
        normal = _normalized(email)
        if normal == email:
            continue
        if normal in taken:
            log.warning(
                'user %s: the email %r is the same address as another member\'s (%r), '
                'which keeps it; left as stored, it cannot sign in: rename or remove it',
                user_id, email, normal,
            )
            continue
        conn.execute(users.update().where(users.c.id == user_id).values(email=normal))
        taken.add(normal)


def downgrade():
    pass  # normalized emails are valid lower-cased emails: nothing to undo
