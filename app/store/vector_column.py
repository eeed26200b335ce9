"""The chunks' `vec` column on PostgreSQL with pgvector: whether the database can have it, making it, writing it.

Kept apart from the index classes so the store can write a document's vectors in the transaction that writes
its rows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from longlens.schema import LongLensError

WRITE_BATCH = 1000
"""Vectors sent per UPDATE statement."""


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def available(engine: Engine) -> bool:
    """Whether this database can hold vectors: PostgreSQL with the `vector` extension installed or installable."""
    if not is_postgres(engine):
        return False
    with engine.connect() as conn:
        return conn.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first() is not None


def install(engine: Engine, attempts: int = 5) -> None:
    """Create the extension and the chunks' vector column if they are missing (two first starts may race)."""
    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
                conn.execute(text("ALTER TABLE chunks ADD COLUMN IF NOT EXISTS vec vector"))
            return
        except DBAPIError as exc:
            if attempt == attempts - 1:
                raise LongLensError(f"could not set up pgvector in the database: {exc.orig}") from exc
            time.sleep(0.05 * (attempt + 1))


def vector_literal(vector: np.ndarray) -> str:
    """pgvector's text form, '[x,y,...]', with float32's nine significant digits (exact round trip)."""
    return "[" + ",".join(f"{x:.9g}" for x in vector.tolist()) + "]"


def write_vectors(conn: Connection | Any, ids: Sequence[int], vectors: np.ndarray) -> None:
    """Set the vector of each chunk in `ids` (a connection or a session: the caller's transaction)."""
    for start in range(0, len(ids), WRITE_BATCH):
        part = [int(i) for i in ids[start : start + WRITE_BATCH]]
        literals = [vector_literal(v) for v in vectors[start : start + WRITE_BATCH]]
        conn.execute(
            text(
                "UPDATE chunks SET vec = CAST(d.v AS vector) "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:vs AS text[])) AS d(id, v) WHERE chunks.id = d.id"
            ),
            {"ids": part, "vs": literals},
        )


