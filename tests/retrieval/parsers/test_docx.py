"""DOCX: heading paths from heading styles, tables as tab-separated rows, titles, broken packages."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest

from longlens.retrieval.parsers import parse
from longlens.schema import ParseError


def _manual(path, title: str | None = "Ferry Manual"):
    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
    document.add_paragraph("Preface before any heading.")
    document.add_heading("Fleet", level=1)
    document.add_paragraph("Two vessels serve the island.")
    document.add_heading("MV Tern", level=2)
    document.add_paragraph("Capacity is 312 passengers.")
    document.add_paragraph("   ")  # blank paragraphs are dropped
    document.add_paragraph("Built in 2009.")
    document.add_heading("Engines", level=3)
    document.add_paragraph("Two diesel engines.")
    document.add_heading("Timetable", level=1)
    table = document.add_table(rows=2, cols=3)
    for r, row in enumerate([("Leaves", "Arrives", "Vessel"), ("07:40", "08:55", "MV Tern")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_heading("Deep", level=3)  # level 3 directly under level 1
    document.add_paragraph("Skipped level.")
    document.save(str(path))
    return path


def test_headings_tables_and_order(tmp_path, offsets):
    doc = parse(_manual(tmp_path / "manual.docx"))
    assert doc.doc_type == "docx" and doc.title == "Ferry Manual" and doc.page_count is None
    got = [(s.heading_path, s.text) for s in doc.segments]
    assert got == [
        ((), "Preface before any heading."),
        (("Fleet",), "Two vessels serve the island."),
        (("Fleet", "MV Tern"), "Capacity is 312 passengers."),
        (("Fleet", "MV Tern"), "Built in 2009."),
        (("Fleet", "MV Tern", "Engines"), "Two diesel engines."),
        (("Timetable",), "Leaves\tArrives\tVessel\n07:40\t08:55\tMV Tern"),
        (("Timetable", "Deep"), "Skipped level."),
    ]
    offsets(doc)


def test_title_from_title_style_then_first_heading(tmp_path):
    document = docx.Document()
    document.core_properties.title = ""
    document.add_heading("Styled Title", level=0)
    document.add_paragraph("Body.")
    document.save(str(tmp_path / "a.docx"))
    assert parse(tmp_path / "a.docx").title == "Styled Title"
    assert parse(_manual(tmp_path / "b.docx", title="")).title == "Fleet"


def test_merged_cells_appear_once(tmp_path):
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 2)).text = "Summer timetable"
    for c, value in enumerate(("07:40", "12:15", "17:05")):
        table.cell(1, c).text = value
    document.save(str(tmp_path / "t.docx"))
    assert parse(tmp_path / "t.docx").segments[0].text == "Summer timetable\n07:40\t12:15\t17:05"


def test_corrupt_docx_zip_garbage(tmp_path):
    (tmp_path / "bad.docx").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    with pytest.raises(ParseError, match=r"^corrupt DOCX \(not a valid ZIP package\)$"):
        parse(tmp_path / "bad.docx")


def test_zip_without_a_document_part(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("hello.txt", "not a word document")
    (tmp_path / "other.docx").write_bytes(buf.getvalue())
    with pytest.raises(ParseError, match="^corrupt DOCX"):
        parse(tmp_path / "other.docx")


def test_broken_xml_inside_the_package(tmp_path):
    good = _manual(tmp_path / "good.docx")
    buf = io.BytesIO()
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(buf, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, data[: len(data) // 2] if item.filename == "word/document.xml" else data)
    (tmp_path / "broken.docx").write_bytes(buf.getvalue())
    with pytest.raises(ParseError, match="^corrupt DOCX"):
        parse(tmp_path / "broken.docx")


def test_not_a_zip_at_all(tmp_path):
    (tmp_path / "text.docx").write_text("just some words, no zip container")
    with pytest.raises(ParseError, match=r"^corrupt DOCX \(not a valid ZIP package\)$"):
        parse(tmp_path / "text.docx")


def test_ole_container_is_named(tmp_path):
    (tmp_path / "locked.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    with pytest.raises(ParseError, match="password-protected DOCX or a legacy Word .doc"):
        parse(tmp_path / "locked.docx")


def test_docx_without_text(tmp_path):
    document = docx.Document()
    document.add_paragraph("")
    document.save(str(tmp_path / "blank.docx"))
    with pytest.raises(ParseError, match="^no text found$"):
        parse(tmp_path / "blank.docx")


def test_custom_heading_style_with_outline_level(tmp_path):
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    document = docx.Document()
    style = document.styles.add_style("Chapter Head", WD_STYLE_TYPE.PARAGRAPH)
    style.element.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {nsdecls("w")} w:val="0"/>'))
    document.add_paragraph("Chapter One", style="Chapter Head")
    document.add_paragraph("It was a dark night.")
    document.save(str(tmp_path / "c.docx"))
    doc = parse(tmp_path / "c.docx")
    assert [(s.heading_path, s.text) for s in doc.segments] == [(("Chapter One",), "It was a dark night.")]
