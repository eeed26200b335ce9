"""The committed sample documents parse, hold their planted facts where QUESTIONS.md says, and are
exactly what data/make_samples.py writes today."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from longlens.retrieval.parsers import parse

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples"

# (file, fact, page or heading path holding it), as listed in QUESTIONS.md
FACTS = [
    ("harrow_valley_field_guide.pdf", "214 nesting pairs", 4),
    ("harrow_valley_field_guide.pdf", "Kestrel Point is 1.6 km long", 10),
    ("harrow_valley_field_guide.pdf", "Ilse Marchetti", 11),
    ("northwind_ferry_manual.docx", "maximum passenger capacity is 312", ("1. Fleet", "1.1 MV Tern")),
    ("orchard_street_library.html", "founded in 1911", ("Orchard Street Community Library", "History")),
    ("quasar7_calibration.md", "-95 degrees Celsius", ("Quasar-7 Telescope", "Detector", "Cooling")),
    ("cafe_lumiere_recipes.txt", "42 minutes at 150 °C", None),
]


@pytest.mark.parametrize(("name", "fact", "where"), FACTS)
def test_fact_is_where_the_questions_say(name, fact, where, offsets):
    doc = parse(SAMPLES / name, ocr=False)
    offsets(doc)
    holders = [s for s in doc.segments if fact in " ".join(s.text.split())]
    assert len(holders) == 1, f"{fact!r} found in {len(holders)} segments"
    if isinstance(where, int):
        assert holders[0].page == where
    elif where is not None:
        assert holders[0].heading_path == where


def test_each_fact_is_in_one_document_only():
    texts = {p.name: " ".join(s.text for s in parse(p, ocr=False).segments) for p in _documents()}
    for name, fact, _ in FACTS:
        assert [n for n, t in texts.items() if fact in " ".join(t.split())] == [name]


def test_samples_are_up_to_date(tmp_path):
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES.parent / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.make_samples(tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in _documents())
    stale = [p.name for p in written if p.read_bytes() != (SAMPLES / p.name).read_bytes()]
    assert not stale, f"run python data/make_samples.py: {stale} changed"
    assert sum(p.stat().st_size for p in SAMPLES.iterdir()) < 300_000


def _documents() -> list[Path]:
    return sorted(SAMPLES.iterdir())
