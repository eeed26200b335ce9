"""Keyword (BM25-style) search inside the database: SQLite FTS5, or PostgreSQL full text.

Used when `keyword_index = "database"`; the default ranks with the in-memory BM25 index
(`longlens.retrieval.bm25`), which is an order of magnitude faster on large collections. The FTS tables are
kept either way, so switching needs no re-ingestion.

Keeping the keyword index in the database means it is written in the same transaction as the chunks, so it
can never disagree with them (triggers on SQLite, a generated column on PostgreSQL). The text they index is
the chunk's section path and text, as `longlens.retrieval.terms.keyword_text` defines it for the in-memory
index: SQL cannot call Python, so the DDL below spells the same rule out again.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, text

from longlens.retrieval.terms import STOPWORDS
from longlens.retrieval.terms import WORD as _WORD

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
    # per-term document frequencies, read at query time to tell informative terms from near-ubiquitous ones
    "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts_vocab USING fts5vocab(chunks_fts, 'row')",
]
COMMON_TERM_SHARE = 0.05
"""A term in more than this share of chunks is common: it still scores, but cannot match on its own."""
GLOBAL_FETCH = 10
"""Rows ranked across all collections per row wanted, before the collection/document filters."""
PRUNE_FROM_CHUNKS = 5000
"""Below this many chunks an OR of every term is cheap, and every term may match on its own."""
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


def match_words(query: str) -> list[str]:
    """The words of a question worth matching, lower-cased, stopwords and duplicates dropped, but not stemmed:
    the database's own tokenizer (FTS5 porter, PostgreSQL's english config) stems them, unlike
    `longlens.retrieval.terms.query_terms`, whose stems are the in-memory index's vocabulary."""
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
    terms = match_words(query)
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
        return _sqlite_search(engine, terms, where, params)
    if engine.dialect.name == "postgresql":
        params["q"] = " | ".join(t for t in terms if t.isalnum()) or "''"
        sql = (
            "SELECT c.id, ts_rank_cd(c.tsv, to_tsquery('english', :q)) AS score FROM chunks c "
            f"WHERE c.tsv @@ to_tsquery('english', :q) AND {where} ORDER BY score DESC LIMIT :k"
        )
    else:
        raise NotImplementedError(f"keyword search is not available on {engine.dialect.name}")
    with engine.connect() as conn:
        return [(int(r[0]), float(r[1])) for r in conn.execute(text(sql), params)]


def _sqlite_search(engine: Engine, terms: list[str], where: str, params: dict[str, object]
                   ) -> list[tuple[int, float]]:
    """Rank inside FTS5 first, then filter; fall back to filtering every match when too few survive.

    FTS5 orders its own matches without a join per row. When at least k of its global top `k *
    GLOBAL_FETCH` rows pass the filters, they are exactly the filtered top k: a passing row that ranks
    higher would be in the global top too. Otherwise (a small collection among large ones) every match is
    joined and filtered.
    """
    with engine.connect() as conn:
        params = {**params, "q": _sqlite_match(conn, terms), "n": int(params["k"]) * GLOBAL_FETCH}
        top = (
            "SELECT c.id, f.score FROM (SELECT rowid, -rank AS score FROM chunks_fts WHERE chunks_fts MATCH :q "
            f"ORDER BY rank LIMIT :n) f JOIN chunks c ON c.id = f.rowid WHERE {where} ORDER BY f.score DESC LIMIT :k"
        )
        rows = [(int(r[0]), float(r[1])) for r in conn.execute(text(top), params)]
        if len(rows) >= int(params["k"]):
            return rows
        every = (
            "SELECT c.id, -bm25(chunks_fts) AS score FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
            f"WHERE chunks_fts MATCH :q AND {where} ORDER BY bm25(chunks_fts) LIMIT :k"
        )
        return [(int(r[0]), float(r[1])) for r in conn.execute(text(every), params)]


def _sqlite_match(conn: Connection, terms: list[str]) -> str:
    """An FTS5 expression where any term scores but at least one informative term must match.

    A plain OR of a question's words makes FTS5 rank every chunk holding any common word (a 100k-chunk
    collection: nearly all of them, ~200 ms). Requiring one term held by at most `COMMON_TERM_SHARE` of the
    chunks keeps the ranking of the chunks that matter while scoring far fewer. Terms whose stem differs from
    the word are not found in the vocabulary and count as informative (the safe side: they may match alone).
    """
    quoted = ['"' + t.replace('"', "") + '"' for t in terms]
    any_term = " OR ".join(quoted)
    if len(terms) < 2:
        return any_term
    total = conn.execute(text("SELECT count(*) FROM chunks")).scalar_one()
    if total < PRUNE_FROM_CHUNKS:
        return any_term
    names = {f"t{i}": t for i, t in enumerate(terms)}
    placeholders = ", ".join(f":{n}" for n in names)
    rows = conn.execute(text(f"SELECT term, doc FROM chunks_fts_vocab WHERE term IN ({placeholders})"), names)
    df = {term: doc for term, doc in rows}
    informative = [q for t, q in zip(terms, quoted, strict=True) if df.get(t, 0) <= COMMON_TERM_SHARE * total]
    if not informative or len(informative) == len(terms):
        return any_term
    return f"({' OR '.join(informative)}) AND ({any_term})"


def _in_clause(column: str, prefix: str, values: Sequence[int], params: dict[str, object]) -> str:
    names = []
    for i, value in enumerate(values):
        params[f"{prefix}{i}"] = int(value)
        names.append(f":{prefix}{i}")
    return f"{column} IN ({', '.join(names)})"
