"""What one read of the verification path costs, by how it is run: the API-key lookup by
public id among N keys, built per call through the ORM session, prebuilt (keys/lookups.py's
statements) on the session's connection, with a session opened and closed around it (what a
request that misses used to pay), on a read connection kept open (what keys/lookups.py does),
and at the driver alone.

    .venv/bin/python bench/lookup_cost.py                       # SQLite, 20,000 keys
    .venv/bin/python bench/lookup_cost.py --keys 200000 \\
        --url postgresql+psycopg://postgres@127.0.0.1:5432/DB  # an empty database you own
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import spread  # noqa: E402
from sqlalchemy import create_engine, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from keys import verification  # noqa: E402
from keys.base import Base  # noqa: E402
from keys.hashing import SecretHasher  # noqa: E402
from keys.models import ApiKey, Org  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--reads", type=int, default=5_000)
    parser.add_argument("--url", default=None, help="default: a SQLite file in a temp folder")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/lookups.db"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(Org(name="Bench", api_access=True))
        s.commit()
        org_id = s.scalar(select(Org.id))
    made = list(spread._api_keys(SecretHasher(b"p" * 32), int(org_id or 0), args.keys))
    with Session(engine) as s:
        s.execute(
            ApiKey.__table__.insert(),
            [dict(zip(spread.API_KEY_COLUMNS, r, strict=True)) for _, r in made],
        )
        s.commit()
    ids = [row[2] for _, row in made]
    prebuilt = verification._API_KEY_BY_PUBLIC_ID
    columns = prebuilt.selected_columns
    compiled = prebuilt.compile(dialect=engine.dialect)
    sql, positions = str(compiled), compiled.positiontup
    reader = engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def orm(s: Session, public_id: str) -> object:
        statement = (
            select(*columns)
            .select_from(ApiKey)
            .join(Org, Org.id == ApiKey.org_id)
            .where(ApiKey.public_id == public_id)
        )
        return s.execute(statement).one_or_none()

    def on_session(s: Session, public_id: str) -> object:
        return s.connection().execute(prebuilt, {"public_id": public_id}).one_or_none()

    def session_each(_s: Session, public_id: str) -> object:
        with Session(engine) as own:
            return on_session(own, public_id)

    def read_connection(_s: Session, public_id: str) -> object:
        return reader.execute(prebuilt, {"public_id": public_id}).one_or_none()

    def driver(s: Session, public_id: str) -> object:
        params = {"public_id": public_id}
        values = tuple(params[n] for n in positions) if positions else params
        cursor = s.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(sql, values)
        return cursor.fetchone()

    ways: list[tuple[str, Callable[[Session, str], object]]] = [
        ("ORM, select() built per call", orm),
        ("prebuilt, on the session's connection", on_session),
        ("prebuilt, a session opened and closed each", session_each),
        ("prebuilt, on a kept read connection", read_connection),
        ("the driver alone", driver),
    ]
    for label, way in ways:
        with Session(engine) as s:
            for public_id in ids[:200]:
                way(s, public_id)
            started = time.process_time()
            for _ in range(args.reads):
                way(s, random.choice(ids))
            cpu = (time.process_time() - started) / args.reads
        print(f"{label}: {cpu * 1e6:.1f} us CPU per read ({args.keys:,} keys)")
    reader.close()


if __name__ == "__main__":
    main()
