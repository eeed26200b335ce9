"""Bad or partial video input: one clear error or warning per file, and the rest of a batch goes on."""

from __future__ import annotations

import pytest

from longlens.retrieval.parsers import ParseOptions, parse
from longlens.retrieval.parsers.video import parse_video
from longlens.schema import ParseError


@pytest.fixture(scope="module")
def silent_slides(media_dir, truth):
    """Video only (no audio stream): one slide."""
    spec = truth.MediaSpec([(1.0, 5.0, "SILENT FILM ARCHIVE")], [], 8.0)
    return truth.make_media(media_dir / "silent.mp4", spec, audio=False)


def test_no_audio_track_indexes_the_visual_side(silent_slides, truth):
    doc = parse_video(silent_slides, ParseOptions())
    assert any("no audio track" in w for w in doc.warnings)
    assert truth.near(doc.segments, "silent film archive", 1.0, "ocr")
    assert not any(s.source == "speech" for s in doc.segments)


def test_audio_only_works(media_dir, truth):
    spec = truth.MediaSpec([], [(1.0, "The lighthouse keeper feeds seven cats.")], 5.0)
    path = truth.make_media(media_dir / "voice.mp4", spec, video=False)
    doc = parse_video(path, ParseOptions())
    assert any("no video track" in w for w in doc.warnings)
    assert truth.near(doc.segments, "lighthouse", 1.0, "speech"), doc.segments
    assert doc.duration == pytest.approx(5.0, abs=0.5)


def test_zero_length_file(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(ParseError, match="empty"):
        parse_video(empty, ParseOptions())
    with pytest.raises(ParseError, match="empty"):
        parse(empty)


def test_truncated_file(tmp_path, silent_slides):
    data = silent_slides.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(ParseError, match="truncated|corrupt|not a readable"):
        parse(cut)


def test_garbage_after_a_valid_header(tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 12 + b"this is not a video at all " * 100)
    with pytest.raises(ParseError):
        parse(fake)


def test_text_file_named_mp4(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("These are meeting notes, not a video.\n" * 50)
    with pytest.raises(ParseError, match="not a video"):
        parse(text)
    with pytest.raises(ParseError, match="not a readable"):
        parse_video(text, ParseOptions())  # the parser's own probe says so too


def test_longer_than_the_limit(silent_slides):
    with pytest.raises(ParseError, match="over the configured limit"):
        parse_video(silent_slides, ParseOptions(video_max_seconds=5))


def test_batch_goes_on_after_a_bad_video(lens, tmp_path, silent_slides):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(silent_slides.read_bytes()[:2000])
    report = lens.ingest([broken, silent_slides])
    assert [f["path"] for f in report.failed] == [str(broken)]
    assert report.ok == [str(silent_slides)]
    assert any("no audio track" in w for d in report.documents for w in d["warnings"])
    hits = lens.search("silent film archive", k=1)
    assert hits and hits[0].doc_type == "video" and hits[0].t_start <= 3


def test_unsupported_codec(silent_slides, monkeypatch):
    from longlens.retrieval import media_probe

    monkeypatch.setattr(media_probe, "_decodable", lambda name: name != "h264")  # as if FFmpeg lacked H.264
    with pytest.raises(ParseError, match="unsupported video codec 'h264'"):
        parse_video(silent_slides, ParseOptions())
