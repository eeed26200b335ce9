"""The same store code on a real PostgreSQL server (LONGLENS_TEST_PG_URL; .ci/run starts one)."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

PG_URL = os.environ.get("LONGLENS_TEST_PG_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="set LONGLENS_TEST_PG_URL (see .ci/start-postgres.sh)"),
]


@pytest.fixture
def pg_url():
    """A fresh database on the server for this test, dropped afterwards."""
    name = f"longlens_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_ingest_search_replace_remove_on_postgres(tmp_path, embedder, pg_url):
    from longlens import LongLens

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ships.md").write_text("# Ships\n\n## Clippers\n\nThe Cutty Sark carried tea from China.\n")
    (docs / "trains.txt").write_text("The Flying Scotsman reached 100 mph in 1934.")
    with LongLens(tmp_path / "data", database_url=pg_url, workers=1) as ll:
        ll.embedder = embedder
        assert ll.store.engine.dialect.name == "postgresql"
        report = ll.ingest([docs])
        assert len(report.ok) == 2 and not report.failed
        hit = ll.search("which ship carried tea", k=1)[0]
        assert hit.document.endswith("ships.md") and hit.heading_path == "Ships > Clippers"
        assert len(ll.ingest([docs]).skipped) == 2
        keyword = ll.search("Cutty Sark tea", k=2, mode="keyword")
        assert keyword[0].document.endswith("ships.md")
        assert ll.search("Flying Scotsman", k=1, mode="keyword", doc_type="text")[0].doc_type == "text"

        (docs / "trains.txt").write_text("The Mallard set the steam record of 126 mph in 1938.")
        assert len(ll.ingest([docs]).ok) == 1
        assert "Mallard" in ll.search("steam speed record", k=1)[0].text
        assert ll.search("Flying Scotsman", k=2, mode="keyword") == []
        ll.remove(["ships.md"])
        assert [d.doc_type for d in ll.documents()] == ["text"]
        assert ll.doctor()["healthy"] is True
