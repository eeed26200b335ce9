"""A data directory made by an earlier version opens, keeps its collections and answers after the upgrade.

`data/legacy-6bcc468.db` was written by the code of commit 6bcc468 (2026-12-03), before users had ids: a CLI
collection "notes", the web user alice's "birds" (stored as "alice::birds"), the web user 日本's "default"
(stored as "__::default", the squashed name the old code gave 日本) and one conversation of alice's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import text

from longlens.answer.pipeline import AskOptions
from longlens.store.migrations import MIGRATIONS, applied, migrate
from longlens.store.store import make_engine
from longlens.store.users import Users, owned_key

LEGACY = Path(__file__).parent / "data" / "legacy-6bcc468.db"


def _legacy_lens(tmp_path, embedder):  # noqa: ANN202 - a LongLens over a copy of the legacy data directory
    from longlens import LongLens

    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(LEGACY, data / "longlens.db")
    ll = LongLens(data, workers=1)
    ll.embedder = embedder
    return ll


def test_legacy_database_upgrades_and_answers(tmp_path, embedder):
    with make_engine(f"sqlite:///{LEGACY}").connect() as conn:  # the file as the old code left it
        assert "owner_id" not in {r[1] for r in conn.execute(text("PRAGMA table_info(collections)"))}
    ll = _legacy_lens(tmp_path, embedder)
    try:
        assert applied(ll.store.engine) == sorted(name for name, _ in MIGRATIONS)
        users = Users(ll.store.engine)
        alice, squashed = users.get("alice"), users.get("__")
        assert alice is not None and squashed is not None and alice.id != squashed.id
        owners = {c.name: c.owner_id for c in ll.collections()}
        assert owners == {"notes": None, owned_key(alice.id, "birds"): alice.id,
                          owned_key(squashed.id, "default"): squashed.id}
        assert {c.name: c.documents for c in ll.collections()}[owned_key(alice.id, "birds")] == 1
        hits = ll.search("grey heron nesting pairs", collection=owned_key(alice.id, "birds"), k=1)
        assert hits and "412" in hits[0].text
        answer = ll.ask("How many grey heron nesting pairs did the 2025 survey count?",
                        collection=owned_key(alice.id, "birds"), options=AskOptions(answer_mode="extract"))
        assert "412" in answer.text and answer.citations
        from longlens.store.conversations import Conversations

        assert [title for _id, title in Conversations(ll.store.engine).list(alice)] == ["How many heron pairs?"]
    finally:
        ll.close()


def test_upgrade_runs_once(tmp_path, embedder):
    ll = _legacy_lens(tmp_path, embedder)
    ll.close()
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'longlens.db'}")
    assert migrate(engine) == []  # everything was applied on the first open
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar() == 2


def test_new_database_gets_every_migration(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert migrate(engine) == [name for name, _ in MIGRATIONS]
    assert migrate(engine) == []
    with engine.connect() as conn:
        assert "owner_id" in {r[1] for r in conn.execute(text("PRAGMA table_info(conversations)"))}


def test_cli_lists_each_collections_owner(tmp_path, embedder):
    import json

    from typer.testing import CliRunner

    from longlens.cli.commands import app

    _legacy_lens(tmp_path, embedder).close()
    res = CliRunner().invoke(app, ["collections", "--json", "--data-dir", str(tmp_path / "data")],
                             catch_exceptions=False)
    owners = {c["name"].partition("::")[2] or c["name"]: c["owner"] for c in json.loads(res.stdout)}
    assert owners == {"birds": "alice", "default": "__", "notes": None}


def test_concurrent_first_starts_on_a_new_directory(tmp_path):
    """Two processes making the schema at once: one died with 'table collections already exists' (3 of 10)."""
    import subprocess
    import sys

    code = "import sys; from longlens.store.store import Store; Store(f'sqlite:///{sys.argv[1]}/longlens.db').close()"
    failures: list[str] = []
    for i in range(10):
        data = tmp_path / f"d{i}"
        pair = [subprocess.Popen([sys.executable, "-c", code, str(data)], cwd=tmp_path, stderr=subprocess.PIPE,
                                 text=True) for _ in range(2)]
        for proc in pair:
            _out, err = proc.communicate(timeout=120)
            if proc.returncode:
                failures.append(err.strip().splitlines()[-1])
        assert applied(make_engine(f"sqlite:///{data / 'longlens.db'}")) == sorted(name for name, _ in MIGRATIONS)
    assert failures == []
