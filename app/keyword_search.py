"""Keyword (BM25-style) search inside the database: SQLite FTS5, or PostgreSQL full text.

Keeping the keyword index in the database means it is written in the same transaction as the chunks, so it
can never disagree with them (triggers on SQLite, a generated column on PostgreSQL).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import Engine, text

_WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    "a an and are as at be by did do does for from has have how i in is it its of on or the this to was "
    "were what when where which who whom why will with you your".split()
)

_SQLITE_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5("
    "text, heading_path, content='chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks BEGIN "
    "INSERT INTO chunks_fts(rowid, text, heading_path) VALUES (new.id, new.text, new.heading_path); END",
    "CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN "
    "INSERT INTO chunks_fts(chunks_fts, rowid, text, heading_path) "
    "VALUES ('delete', old.id, old.text, old.heading_path); END",
    "CREATE TRIGGER IF NOT EXISTS chunks_fts_update AFTER UPDATE ON chunks BEGIN "
    "INSERT INTO chunks_fts(chunks_fts, rowid, text, heading_path) "
    "VALUES ('delete', old.id, old.text, old.heading_path); "
    "INSERT INTO chunks_fts(rowid, text, heading_path) VALUES (new.id, new.text, new.heading_path); END",
]
_POSTGRES_DDL = [
    "ALTER TABLE chunks ADD COLUMN IF NOT EXISTS tsv tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', coalesce(heading_path, '') || ' ' || text)) STORED",
    "CREATE INDEX IF NOT EXISTS ix_chunks_tsv ON chunks USING GIN (tsv)",
]


def install(engine: Engine) -> None:
    """Create the keyword index for this database (idempotent)."""
    dialect = engine.dialect.name
    with engine.begin() as conn:
        if dialect == "sqlite":
            existed = conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='chunks_fts'"
            ).first()
            for stmt in _SQLITE_DDL:
                conn.exec_driver_sql(stmt)
            if not existed:  # index chunks stored before the FTS table existed
                conn.exec_driver_sql("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
        elif dialect == "postgresql":
            for stmt in _POSTGRES_DDL:
                conn.exec_driver_sql(stmt)


def query_terms(query: str) -> list[str]:
    """The words of a question worth matching: lower-cased, stopwords and duplicates dropped."""
    seen: list[str] = []
    for word in _WORD.findall(query.lower()):
        if word not in STOPWORDS and word not in seen:
            seen.append(word)
    return seen or [w for w in _WORD.findall(query.lower())][:8]


def search(
    engine: Engine,
    query: str,
    collection_ids: Sequence[int],
    k: int,
    *,
    document_ids: Sequence[int] | None = None,
    doc_type: str | None = None,
) -> list[tuple[int, float]]:
    """Top-k (chunk id, score) by keyword relevance, higher is better; any word may match (OR)."""
    terms = query_terms(query)
    if not terms or not collection_ids or k <= 0:
        return []
    params: dict[str, object] = {"k": k}
    filters = [_in_clause("c.collection_id", "col", collection_ids, params)]
    if document_ids is not None:
        if not document_ids:
            return []
        filters.append(_in_clause("c.document_id", "doc", document_ids, params))
    if doc_type is not None:
        filters.append("c.document_id IN (SELECT id FROM documents WHERE doc_type = :doc_type)")
        params["doc_type"] = doc_type
    where = " AND ".join(filters)
    if engine.dialect.name == "sqlite":
        params["q"] = " OR ".join('"' + t.replace('"', "") + '"' for t in terms)
        sql = (
            "SELECT c.id, -bm25(chunks_fts) AS score FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
            f"WHERE chunks_fts MATCH :q AND {where} ORDER BY bm25(chunks_fts) LIMIT :k"
        )
    elif engine.dialect.name == "postgresql":
        params["q"] = " | ".join(t for t in terms if t.isalnum()) or "''"
        sql = (
            "SELECT c.id, ts_rank_cd(c.tsv, to_tsquery('english', :q)) AS score FROM chunks c "
            f"WHERE c.tsv @@ to_tsquery('english', :q) AND {where} ORDER BY score DESC LIMIT :k"
        )
    else:
        raise NotImplementedError(f"keyword search is not available on {engine.dialect.name}")
    with engine.connect() as conn:
        return [(int(r[0]), float(r[1])) for r in conn.execute(text(sql), params)]


def _in_clause(column: str, prefix: str, values: Sequence[int], params: dict[str, object]) -> str:
    names = []
    for i, value in enumerate(values):
        params[f"{prefix}{i}"] = int(value)
        names.append(f":{prefix}{i}")
    return f"{column} IN ({', '.join(names)})"
