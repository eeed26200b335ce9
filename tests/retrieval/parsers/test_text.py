"""Plain text: encodings (BOMs, UTF-16/32, cp1252), paragraphs, form-feed pages, and non-text input."""

from __future__ import annotations

import codecs

import pytest

from longlens.retrieval.parsers import parse
from longlens.schema import ParseError

SAMPLE = "Café crème — “quoted” for €4\n\nSecond paragraph,\nsame paragraph.\n\n\n  Third: naïve façade.\n"
PARAGRAPHS = ["Café crème — “quoted” for €4", "Second paragraph,\nsame paragraph.", "  Third: naïve façade."]


@pytest.mark.parametrize(
    "encoded",
    [
        SAMPLE.encode("utf-8"),
        codecs.BOM_UTF8 + SAMPLE.encode("utf-8"),
        SAMPLE.encode("utf-16"),  # with BOM
        SAMPLE.encode("utf-16-le"),  # no BOM
        SAMPLE.encode("utf-16-be"),
        SAMPLE.encode("utf-32"),
        SAMPLE.encode("cp1252"),
        SAMPLE.replace("\n", "\r\n").encode("utf-8"),
    ],
    ids=["utf8", "utf8-bom", "utf16-bom", "utf16le", "utf16be", "utf32", "cp1252", "crlf"],
)
def test_encodings_decode_to_the_same_paragraphs(tmp_path, encoded, offsets):
    path = tmp_path / "note.txt"
    path.write_bytes(encoded)
    doc = parse(path)
    assert doc.doc_type == "text"
    assert [s.text for s in doc.segments] == PARAGRAPHS
    assert doc.title == "Café crème — “quoted” for €4"
    assert all(s.page is None and s.heading_path == () for s in doc.segments)
    assert offsets(doc) == "\n\n".join(PARAGRAPHS)


def test_latin1_text(tmp_path):
    path = tmp_path / "old.txt"
    path.write_bytes("Señor Müller a été à la plage. ¿Qué tal?\n".encode("latin-1"))
    assert parse(path).segments[0].text == "Señor Müller a été à la plage. ¿Qué tal?"


def test_form_feeds_are_pages(tmp_path, offsets):
    path = tmp_path / "pages.txt"
    path.write_text("page one\n\nstill one\fpage two\f")
    doc = parse(path)
    assert [(s.page, s.text) for s in doc.segments] == [(1, "page one"), (1, "still one"), (2, "page two")]
    assert doc.page_count == 2
    offsets(doc)


def test_long_first_line_is_not_a_title(tmp_path):
    path = tmp_path / "minutes.txt"
    path.write_text("word " * 100)
    assert parse(path).title == "minutes"


def test_text_like_suffix_is_read_as_text(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("name,count\nheron,214\n")
    doc = parse(path)
    assert doc.doc_type == "text" and doc.segments[0].text == "name,count\nheron,214"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "^empty file$"),
        (b"  \n\n\t \n", "^no text found"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "^binary content, not text$"),
        (bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D, 0xFE, 0xFF]) * 100, "^could not detect the text encoding$"),
        (bytes(range(1, 32)) * 50, "^binary content, not text$"),
    ],
    ids=["empty", "whitespace", "png", "undecodable", "control-chars"],
)
def test_bad_text(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ParseError, match=message):
        parse(path)


def test_short_cp1252_is_not_taken_for_utf16(tmp_path):
    path = tmp_path / "short.txt"
    path.write_bytes("café".encode("cp1252"))
    assert parse(path).segments[0].text == "café"


def test_mostly_ascii_text_in_an_unknown_code_page_is_read_with_a_warning(tmp_path):
    path = tmp_path / "polish.txt"
    path.write_bytes("Zażółć gęślą jaźń. Łódź jest dużym miastem w Polsce.\n".encode("cp1250") * 3)
    doc = parse(path)  # charset-normalizer 3.5 finds no encoding for this; a better one may get cp1250
    assert "miastem w Polsce" in doc.segments[0].text  # the ASCII survives whatever the guess
    if "dużym" not in doc.segments[0].text:
        assert doc.warnings == ["text encoding guessed as cp1252; some accented characters may be wrong"]
