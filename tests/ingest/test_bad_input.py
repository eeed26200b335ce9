"""Each kind of bad input gets one clear error naming the cause; the batch goes on; nothing stored changes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest


def _good_docs(folder):
    folder.mkdir()
    (folder / "good.md").write_text("# Owls\n\nBarn owls hunt by sound in complete darkness.\n")
    (folder / "also-good.txt").write_text("Lighthouses were once lit with whale oil lamps.")
    return folder


def _bad_files(folder, pdf_writer):
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    real = folder / "real.pdf.bak"
    pdf_writer(real, ["page one text here", "page two text here"])
    data = real.read_bytes()
    (folder / "truncated.pdf").write_bytes(data[: len(data) // 2])
    (folder / "garbage.pdf").write_bytes(b"this is not a pdf at all, just words" * 10)
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(str(real)).pages:
        writer.add_page(page)
    writer.encrypt("sesame")
    with open(folder / "encrypted.pdf", "wb") as fh:
        writer.write(fh)
    real.unlink()
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (folder / "undecodable.txt").write_bytes(bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D, 0xFE, 0xFF]) * 300)
    (folder / "huge.txt").write_text("word " * 300_000)  # 1.5 MB, over the 1 MB limit set below
    (folder / "photo.xyz").write_bytes(b"\x89PNG not really")
    return folder


EXPECTED = {
    "empty.txt": "empty file",
    "truncated.pdf": "corrupt or truncated pdf",
    "garbage.pdf": "pdf",
    "encrypted.pdf": "encrypted",
    "binary.txt": "binary",
    "undecodable.txt": "encoding",
    "huge.txt": "limit",
    "photo.xyz": "unsupported file type",
    "missing.pdf": "no such file",
}


def test_each_bad_file_fails_clearly_and_the_batch_goes_on(lens, tmp_path, pdf_writer):
    lens.settings.max_file_mb = 1.0
    good = _good_docs(tmp_path / "good")
    first = lens.ingest([good])
    assert len(first.ok) == 2
    before = [(d.source_path, d.sha256, d.chunk_count) for d in lens.documents()]
    before_hits = [h.chunk_id for h in lens.search("owls hunting", k=2)]

    bad = _bad_files(tmp_path / "bad", pdf_writer)
    named = [bad / name for name in sorted(os.listdir(bad))] + [tmp_path / "missing.pdf"]
    (tmp_path / "new.txt").write_text("Comets have tails that point away from the sun.")
    report = lens.ingest([*named, tmp_path / "new.txt"])

    errors = {os.path.basename(f["path"]): f["error"] for f in report.failed}
    assert set(errors) == set(EXPECTED), errors
    for name, needle in EXPECTED.items():
        assert needle in errors[name].lower(), (name, errors[name])
    assert report.ok == [str((tmp_path / "new.txt").resolve())]
    assert report.exit_code == 1

    after = [(d.source_path, d.sha256, d.chunk_count) for d in lens.documents() if d.status == "ready"]
    assert sorted(before) == sorted(a for a in after if "new.txt" not in a[0])
    assert [h.chunk_id for h in lens.search("owls hunting", k=2)] == before_hits
    failed_rows = {os.path.basename(d.source_path): d for d in lens.documents() if d.status == "failed"}
    assert failed_rows["encrypted.pdf"].error and failed_rows["encrypted.pdf"].chunk_count == 0


def test_a_stored_document_survives_when_its_file_turns_bad(lens, tmp_path):
    path = tmp_path / "log.txt"
    path.write_text("The bridge opened in 1932 after four years of work.")
    assert lens.ingest([path]).ok
    path.write_bytes(b"\x00\x01\x02" * 100)
    report = lens.ingest([path])
    assert "binary" in report.failed[0]["error"]
    doc = lens.documents()[0]
    assert doc.status == "ready" and doc.chunk_count == 1
    assert "1932" in lens.search("when did the bridge open", k=1)[0].text


def test_symlink_loop_in_a_folder_is_reported_and_the_rest_ingested(lens, tmp_path):
    folder = tmp_path / "tree"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "fine.txt").write_text("Hedgehogs hibernate through the winter.")
    os.symlink(folder, folder / "sub" / "back-up")
    os.symlink(tmp_path / "self-link", tmp_path / "self-link")
    report = lens.ingest([folder, tmp_path / "self-link"], recursive=True)
    assert report.ok == [str((folder / "sub" / "fine.txt").resolve())]
    reasons = sorted(f["error"] for f in report.failed)
    assert len(reasons) == 2 and all("symlink loop" in r for r in reasons)


def test_folder_walk_reports_unsupported_files_as_skipped(lens, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("Kiwis are flightless birds from New Zealand.")
    (tmp_path / "d" / "b.png").write_bytes(b"\x89PNG")
    (tmp_path / "d" / ".hidden.txt").write_text("secret")
    report = lens.ingest([tmp_path / "d"])
    assert len(report.ok) == 1 and report.failed == []
    assert "unsupported" in report.skipped_reasons[str(tmp_path / "d" / "b.png")]


@pytest.mark.skipif(not shutil.which("setpriv") and os.geteuid() == 0, reason="root without setpriv reads anything")
def test_unreadable_file_is_reported(tmp_path):
    locked = tmp_path / "locked.txt"
    locked.write_text("nobody may read this")
    ok = tmp_path / "open.txt"
    ok.write_text("Anyone may read this line about marmots.")
    locked.chmod(0)
    cmd = [sys.executable, "-m", "longlens.cli", "ingest", str(locked), str(ok), "--json", "--workers", "1"]
    if os.geteuid() == 0:  # root bypasses file modes unless it gives up the capabilities that allow it
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *cmd]
    env = {**os.environ, "LONGLENS_HOME": str(tmp_path / "data")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert result["failed"] == [{"path": str(locked), "error": "permission denied"}]
    assert result["ok"] == [str(ok)]


def test_api_refuses_k_below_one_like_the_cli(lens):
    """`search` with k <= 0 returned [] silently in the API while the CLI refused it."""
    from longlens.answer.pipeline import AskOptions
    from longlens.schema import LongLensError

    for k in (0, -3, 2.5, True):
        with pytest.raises(LongLensError, match="k must be a whole number of at least 1"):
            lens.search("anything", k=k)
    with pytest.raises(LongLensError, match="max_passages must be"):
        AskOptions(max_passages=0)
