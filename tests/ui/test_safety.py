"""Each safety rule, with a test that tries to break it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from gradio_client import Client, handle_file

from longlens.ui.app import WebApp, message_text
from longlens.ui.auth import hash_password, make_auth, verify_password
from longlens.ui.safety import UploadRejected, accept_upload, safe_name
from longlens.ui.viewer import passage_markdown


def test_oversized_upload_rejected_by_server(served, tmp_path):
    url, _lens, _gen = served  # the served app allows 200 kB
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * 300_000)
    with pytest.raises(Exception):  # noqa: B017 - Gradio refuses it before our handler, with its own error type
        Client(url, verbose=False).predict([handle_file(str(big))], "x", api_name="/upload")
    with pytest.raises(UploadRejected, match="limit"):
        accept_upload(big, "big.txt", tmp_path / "data", "alice", max_bytes=200_000)


def test_wrong_type_rejected(tmp_path):
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    with pytest.raises(UploadRejected, match="type"):
        accept_upload(exe, "tool.exe", tmp_path / "data", "alice")


def test_path_traversal_name_sanitised(tmp_path):
    src = tmp_path / "n.txt"
    src.write_text("hello")
    stored = accept_upload(src, "../../../etc/passwd.txt", tmp_path / "data", "../bob")
    assert stored.parent == (tmp_path / "data" / "uploads" / "bob").resolve()  # stays inside uploads/
    assert stored.name == "passwd.txt"
    assert safe_name("..\\..\\win.ini") == "win.ini"
    assert "/" not in safe_name("a/../../b.pdf")


def test_script_in_document_is_escaped(tmp_path):
    text = "Intro. <script>alert(1)</script> The keeper is Vasquez. <img src=x onerror=alert(2)>"
    out = passage_markdown(text, "The keeper is Vasquez.")
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<img" not in out
    assert "<mark>The keeper is Vasquez.</mark>" in out


def test_script_document_answer_not_raw(served, tmp_path):
    url, lens, _gen = served
    doc = tmp_path / "evil.md"
    doc.write_text("# Notes\n\nThe lighthouse keeper is Vasquez. <script>alert('x')</script>\n")
    client = Client(url, verbose=False)
    client.predict([handle_file(str(doc))], "notes", api_name="/upload")
    history, _ = client.predict("Who is the lighthouse keeper?", [], ["notes"], 4, False, True, 0.0, api_name="/ask")
    assert "Vasquez" in message_text(history[-1]["content"])


def _req(user: str) -> SimpleNamespace:
    return SimpleNamespace(username=user)


def test_other_users_collection_invisible(lens, tmp_path, pdf_writer):
    from tests.ui.conftest import PAGES, CitingGenerator

    lens.generator = CitingGenerator()
    web = WebApp(lens)
    pdf = tmp_path / "secret.pdf"
    pdf_writer(pdf, PAGES)
    list(web.upload([str(pdf)], "private", _req("alice")))
    assert web.my_collections("alice") == ["private"]
    assert web.my_collections("bob") == []
    assert web.documents_table("bob", "private") == []
    # bob naming alice's collection gets nothing from it
    history, _cites, _ = list(web.ask("Who is the lighthouse keeper?", [], ["private"], 4, False, True, 0.0,
                                      _req("bob")))[-1]
    assert "Vasquez" not in history[-1]["content"]
    # bob cannot rename, delete or open alice's documents
    web.manage("delete", "private", "", _req("bob"))
    assert web.my_collections("alice") == ["private"]
    _h, cites, _ = list(web.ask("Who is the lighthouse keeper?", [], ["private"], 4, False, True, 0.0,
                                _req("alice")))[-1]
    assert cites
    _img, _vid, caption = web.open_citation(f"[{cites[0]['n']}]", cites, _req("bob"))
    assert caption["value"] == "not your document"


def test_login_hashes():
    stored = hash_password("s3cret")
    assert verify_password("s3cret", stored) and not verify_password("nope", stored)
    auth = make_auth({"alice": stored})
    assert auth("alice", "s3cret") and not auth("bob", "s3cret") and not auth("alice", "x")
    assert make_auth(None) is None
