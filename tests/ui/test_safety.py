"""Each safety rule, with a test that tries to break it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest
from gradio_client import Client, handle_file
from markdown_it import MarkdownIt

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
        accept_upload(big, "big.txt", tmp_path / "data", max_bytes=200_000)


def test_wrong_type_rejected(tmp_path):
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    with pytest.raises(UploadRejected, match="type"):
        accept_upload(exe, "tool.exe", tmp_path / "data")


def test_path_traversal_name_sanitised(tmp_path):
    src = tmp_path / "n.txt"
    src.write_text("hello")
    stored = accept_upload(src, "../../../etc/passwd.txt", tmp_path / "data")
    assert stored.parent.parent == (tmp_path / "data" / "uploads").resolve()  # stays inside uploads/
    assert stored.name == "passwd.txt"
    assert safe_name("..\\..\\win.ini") == "win.ini"
    assert "/" not in safe_name("a/../../b.pdf")


def test_script_in_document_is_escaped(tmp_path):
    text = "Intro. <script>alert(1)</script> The keeper is Vasquez. <img src=x onerror=alert(2)>"
    out = passage_markdown(text, "The keeper is Vasquez.")
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<img" not in out
    assert "<mark>The keeper is Vasquez.</mark>" in MarkdownIt("commonmark").render(out)


def test_no_remote_image_from_a_document():
    """A Markdown image in a document fired a tracking pixel when its citation was opened."""
    text = "Notes ![pixel](http://tracker.example/p.png) and [more](http://x.example). The keeper is Vasquez."
    shown = MarkdownIt("commonmark").render(passage_markdown(text, "The keeper is Vasquez."))
    assert "<img" not in shown and "href" not in shown
    assert "![pixel](http://tracker.example/p.png)" in shown  # shown as the document's text


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


def test_look_alike_user_names_are_different_people(lens, tmp_path, pdf_writer):
    """The old code squashed 日本 and 中文 (and alice / alice.) into one file-system name and one identity."""
    from tests.ui.conftest import PAGES, CitingGenerator

    lens.generator = CitingGenerator()
    web = WebApp(lens)
    pdf = tmp_path / "secret.pdf"
    pdf_writer(pdf, PAGES)
    for owner, other in [("日本", "中文"), ("alice", "alice."), ("zoë", "zoé")]:
        list(web.upload([str(pdf)], "mine", _req(owner)))
        assert web.my_collections(owner) == ["mine"]
        assert web.my_collections(other) == [] and web.documents_table(other, "mine") == []
        history, cites, _ = list(web.ask("Who is the lighthouse keeper?", [], ["mine"], 4, False, True, 0.0,
                                         _req(other)))[-1]
        assert "Vasquez" not in history[-1]["content"] and cites == []
        web.manage("delete", "mine", "", _req(other))
        assert web.my_collections(owner) == ["mine"]
    assert web.user("zoe\u0308").id == web.user("zoë").id  # the same name typed decomposed (NFC)


def test_collection_names_checked_at_the_boundary(lens, tmp_path):
    web = WebApp(lens)
    doc = tmp_path / "n.txt"
    doc.write_text("The lighthouse keeper is Vasquez.")
    for bad, reason in [("\ud800x", "lone surrogate"), ("a\x07b", "control character"), ("x" * 500, "at most")]:
        status, _c, _d = list(web.upload([str(doc)], bad, _req("alice")))[-1]
        assert "rejected" in status and reason in status
    assert web.my_collections("alice") == []


def test_login_hashes():
    stored = hash_password("s3cret")
    assert verify_password("s3cret", stored) and not verify_password("nope", stored)
    auth = make_auth({"alice": stored})
    assert asyncio.run(auth("alice", "s3cret"))
    assert not asyncio.run(auth("bob", "s3cret")) and not asyncio.run(auth("alice", "x"))
    assert make_auth(None) is None


def test_unknown_and_known_names_cost_the_same(monkeypatch):
    """A wrong password for a real user took 49 ms, an unknown user 1.3 ms: names could be guessed by timing."""
    import hashlib

    from longlens.ui import auth as auth_module

    auth = make_auth({"alice": hash_password("s3cret", iterations=1000)})
    asyncio.run(auth("nobody", "x"))  # the stand-in hash is made once, on first use
    calls: list[int] = []
    real = hashlib.pbkdf2_hmac
    monkeypatch.setattr(auth_module.hashlib, "pbkdf2_hmac",
                        lambda name, pw, salt, iterations: calls.append(iterations) or real(name, pw, salt, iterations))
    for user in ("alice", "mallory", "zoë"):
        assert not asyncio.run(auth(user, "wrong"))
    assert calls == [1000, 1000, 1000]  # one hash of the same cost whoever is named


def test_login_attempts_are_throttled(served_with_users):
    """50 wrong passwords went through in 2.5 s with no delay and no lockout."""
    import httpx

    url = served_with_users
    codes: list[int] = []
    with httpx.Client(base_url=url) as http:
        for _ in range(50):
            codes.append(http.post("/login", data={"username": "alice", "password": "guess"}).status_code)
        refused = http.post("/login", data={"username": "alice", "password": "alice-pass"})
        other = http.post("/login", data={"username": "bob", "password": "bob-pass"})
    assert codes[:5] == [400] * 5 and codes.count(429) >= 44
    assert refused.status_code == 429 and "try again in" in refused.json()["detail"]
    assert int(refused.headers["retry-after"]) > 0
    assert other.status_code == 429  # the same address is locked too, whatever name it tries next


@pytest.fixture
def served_with_users(lens):
    from longlens.ui.app import launch_app
    from tests.ui.conftest import free_port

    users = {"alice": hash_password("alice-pass", iterations=1000), "bob": hash_password("bob-pass", iterations=1000)}
    port = free_port()
    demo = launch_app(lens, port=port, users=users, prevent_thread_lock=True)
    yield f"http://127.0.0.1:{port}"
    demo.close()


def test_stored_files_never_served_by_path(lens, tmp_path):
    """Logged in as bob, the old app served alice's upload at /gradio_api/file=<data_dir>/uploads/...; so did `..`."""
    import httpx

    from longlens.ui.app import launch_app
    from tests.ui.conftest import CitingGenerator, free_port

    lens.generator = CitingGenerator()
    users = {"alice": hash_password("alice-pass"), "bob": hash_password("bob-pass")}
    port = free_port()
    demo = launch_app(lens, port=port, users=users, prevent_thread_lock=True)
    url = f"http://127.0.0.1:{port}"
    try:
        secret = tmp_path / "alice_secret.txt"
        secret.write_text("The vault code is 7741. The lighthouse keeper is Vasquez.")
        status, _c, _d = Client(url, auth=("alice", "alice-pass"), verbose=False).predict(
            [handle_file(str(secret))], "private", api_name="/upload")
        assert "ok" in status
        stored = Path(lens.documents()[0].source_path)
        assert stored.read_text().startswith("The vault code")
        uploads = stored.parents[1]
        for who, password in [("bob", "bob-pass"), ("alice", "alice-pass")]:
            with httpx.Client(base_url=url) as http:
                assert http.post("/login", data={"username": who, "password": password}).status_code < 400
                for path in [stored, uploads / "bob" / ".." / stored.parent.name / stored.name]:
                    got = http.get(f"/gradio_api/file={path}")
                    assert got.status_code in (403, 404) and "7741" not in got.text
    finally:
        demo.close()


def test_same_file_name_never_overwrites(lens, tmp_path):
    from tests.ui.conftest import CitingGenerator

    lens.generator = CitingGenerator()
    web = WebApp(lens)
    first, second = tmp_path / "one" / "report.txt", tmp_path / "two" / "report.txt"
    for path, text in [(first, "The lighthouse keeper is Vasquez."), (second, "The lighthouse keeper is Okafor.")]:
        path.parent.mkdir()
        path.write_text(text)
    list(web.upload([str(first)], "a", _req("alice")))
    list(web.upload([str(second)], "b", _req("alice")))
    list(web.upload([str(second)], "a", _req("alice")))  # the same name again in the same collection: a new document
    texts = {c: sorted(Path(d.source_path).read_text() for d in lens.documents(web_key(web, "alice", c)))
             for c in ("a", "b")}
    assert texts == {"a": ["The lighthouse keeper is Okafor.", "The lighthouse keeper is Vasquez."],
                     "b": ["The lighthouse keeper is Okafor."]}
    stored = {d.source_path for d in lens.documents()}
    assert len(stored) == 2  # the same bytes under the same name are stored once
    web.manage("delete", "b", "", _req("alice"))
    assert all(Path(p).exists() for p in stored)  # collection a still uses both
    web.delete_document("a", "report.txt", _req("alice"))
    assert not any(Path(p).exists() for p in stored)  # nothing uses them now: gone from disk
    web.manage("delete", "a", "", _req("alice"))
    assert web.my_collections("alice") == []


def web_key(web: WebApp, user: str, name: str) -> str:
    from longlens.store.users import owned_key

    return owned_key(web.user(user).id, name)


def test_a_failing_upload_ends_with_its_reason_and_frees_its_slot(lens, tmp_path, monkeypatch):
    """The old upload thread died before marking the upload done: it spun forever and held an upload slot."""
    import threading

    web = WebApp(lens)
    doc = tmp_path / "notes.txt"
    doc.write_text("The lighthouse keeper is Vasquez.")
    real_ingest = lens.ingest

    def broken(*_a, **_k):  # noqa: ANN202 - stands in for any failure inside an ingestion
        raise RuntimeError("disk on fire")

    def upload_within(seconds: float) -> str:
        out: list = []
        worker = threading.Thread(target=lambda: out.extend(web.upload([str(doc)], "notes", _req("alice"))))
        worker.start()
        worker.join(seconds)
        assert not worker.is_alive(), "the upload never finished"
        return out[-1][0]

    monkeypatch.setattr(lens, "ingest", broken)
    status = upload_within(30)
    assert "notes.txt: failed" in status and "RuntimeError: disk on fire" in status
    monkeypatch.setattr(lens, "ingest", real_ingest)
    assert "notes.txt: ok" in upload_within(120)


def test_rename_and_delete_say_what_happened(lens, tmp_path):
    web = WebApp(lens)
    doc = tmp_path / "notes.txt"
    doc.write_text("The lighthouse keeper is Vasquez.")
    for name in ("a", "b"):
        list(web.upload([str(doc)], name, _req("alice")))
    assert web.manage("delete", "a", "", _req("bob"))[1] == "delete: you have no collection named 'a'"
    assert web.manage("rename", "a", "b", _req("alice"))[1] == "rename: you already have a collection named 'b'"
    assert "control character" in web.manage("rename", "a", "c\x00", _req("alice"))[1]
    assert web.manage("rename", "a", "c", _req("alice"))[1] == "renamed 'a' to 'c'"
    assert web.manage("delete", "c", "", _req("alice"))[1] == "deleted 'c' and its 1 document(s)"
    assert web.my_collections("alice") == ["b"]


def test_sharing_is_read_only_and_admins_see_everything(lens, tmp_path):
    from tests.ui.conftest import CitingGenerator

    lens.generator = CitingGenerator()
    lens.ingest([_doc(tmp_path, "cli.txt", "The harbour master is Okafor.")], collection="notes")  # no owner
    web = WebApp(lens, admins={"root"}, known_users={"alice", "bob", "carol", "root"})
    list(web.upload([_doc(tmp_path, "keeper.txt", "The lighthouse keeper is Vasquez.")], "private", _req("alice")))
    assert web.share("private", "nobody", _req("alice"))[1] == "share: there is no user named 'nobody'"
    assert web.share("private", "bob", _req("carol"))[1] == "share: you have no collection named 'private'"
    assert web.share("private", "bob", _req("alice"))[1] == "shared 'private' with bob (read-only)"
    label = "private (shared by alice)"
    assert web.my_collections("bob") == [label] and web.my_collections("carol") == []
    history, cites, _ = list(web.ask("Who is the lighthouse keeper?", [], [label], 4, False, True, 0.0,
                                     _req("bob")))[-1]
    assert "Vasquez" in history[-1]["content"]
    assert web.open_citation(f"[{cites[0]['n']}]", cites, _req("bob"))[2]["value"] != "not your document"
    # reading is all bob may do
    assert web.manage("delete", label, "", _req("bob"))[1] == f"delete: '{label}' is shared with you to read only"
    assert web.rename(label, "mine", _req("bob"))[1].endswith("to read only")
    web.delete_document(label, "keeper.txt", _req("bob"))
    status, _c, _d = list(web.upload([_doc(tmp_path, "x.txt", "More.")], label, _req("bob")))[-1]
    assert "shared with you to read" in status
    assert not list((lens.settings.data_dir / "uploads").glob("*/x.txt"))  # refused before anything was stored
    assert web.documents_table("alice", "private")[0][0] == "keeper.txt"
    # the admin sees and manages every collection, the CLI's too
    assert set(web.my_collections("root")) == {"private (alice)", "notes (no owner)"}
    assert web.rename("private (alice)", "kept", _req("root"))[1] == "renamed 'private (alice)' to 'kept'"
    assert web.my_collections("alice") == ["kept"] and web.my_collections("bob") == ["kept (shared by alice)"]
    assert web.unshare("kept", "bob", _req("alice"))[1] == "stopped sharing 'kept' with bob"
    assert web.my_collections("bob") == []
    assert web.delete("notes (no owner)", "", _req("root"))[1] == "deleted 'notes (no owner)' and its 1 document(s)"


def _doc(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path)
