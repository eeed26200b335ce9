"""Type detection by suffix plus first bytes, and dispatch through the parser registry."""

from __future__ import annotations

import pytest

from longlens.retrieval import parsers
from longlens.retrieval.parsers import PARSERS, ParseOptions, detect_type, parse, register_parser
from longlens.schema import ParsedDocument, ParseError, Segment

MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
MKV_HEAD = b"\x1a\x45\xdf\xa3" + b"\x00" * 64
AVI_HEAD = b"RIFF\x00\x00\x00\x00AVI LIST" + b"\x00" * 64


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.pdf", b"%PDF-1.7\n...", "pdf"),
        ("A.PDF", b"%PDF-1.4\n...", "pdf"),
        ("a.docx", b"PK\x03\x04rest", "docx"),
        ("a.html", b"<html></html>", "html"),
        ("a.htm", b"<p>x</p>", "html"),
        ("a.md", b"# x", "markdown"),
        ("a.markdown", b"x", "markdown"),
        ("a.txt", b"x", "text"),
        ("a.rst", b"Title\n=====", "text"),
        ("a.log", b"12:00 started", "text"),
        ("a.json", b'{"a": 1}', "text"),
        ("a.mp4", MP4_HEAD, "video"),
        ("a.mov", MP4_HEAD, "video"),
        ("a.mkv", MKV_HEAD, "video"),
        ("a.webm", MKV_HEAD, "video"),
        ("a.avi", AVI_HEAD, "video"),
    ],
)
def test_detect_type(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    assert detect_type(path) == expected


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("photo.xyz", b"\x89PNG", r"^unsupported file type '\.xyz'$"),
        ("README", b"hello", r"^unsupported file type \(no suffix\)$"),
        ("old.doc", b"\xd0\xcf\x11\xe0", r"^legacy Word \.doc files are not supported"),
        ("fake.pdf", b"Hello, I am text", r"^not a PDF \(the file does not start with %PDF\)$"),
        ("fake.docx", b"Hello, I am text", r"^corrupt DOCX \(not a valid ZIP package\)$"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", r"^binary content, not text$"),
        ("fake.mp4", b"just some text pretending", r"^not a video container"),
        ("empty.pdf", b"", r"^empty file$"),
        ("empty.md", b"", r"^empty file$"),
    ],
)
def test_detect_type_refuses(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ParseError, match=message):
        detect_type(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ParseError, match="^no such file or directory$"):
        detect_type(tmp_path / "nope.pdf")
    (tmp_path / "folder.md").mkdir()
    with pytest.raises(ParseError, match="^not a regular file$"):
        detect_type(tmp_path / "folder.md")


def test_a_truncated_video_gets_a_specific_error(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(MP4_HEAD)
    with pytest.raises(ParseError, match="^not a readable video or audio file"):
        parse(path)


def test_register_parser_replaces_the_video_slot(tmp_path, monkeypatch):
    path = tmp_path / "clip.mkv"
    path.write_bytes(MKV_HEAD)
    seen: list[ParseOptions] = []

    def fake_video(p, options):
        seen.append(options)
        return ParsedDocument("video", p.stem, [Segment("hello", t_start=0.0, t_end=1.0)], duration=1.0)

    monkeypatch.setitem(PARSERS, "video", PARSERS["video"])  # restored after the test
    register_parser("video", fake_video)
    doc = parse(path, ocr=False, ocr_language="deu")
    assert doc.title == "clip" and doc.segments[0].text == "hello"
    assert seen == [ParseOptions(ocr=False, ocr_language="deu")]


def test_importing_the_package_does_not_import_parser_libraries():
    import subprocess
    import sys

    code = "import sys, longlens.retrieval.parsers; print(sorted({'bs4','docx','pypdfium2'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert parsers.__doc__ and '"\\n\\n"' in parsers.__doc__
