"""Subtitles: SubRip and WebVTT to the millisecond, sidecar discovery, embedded tracks."""

from __future__ import annotations

import subprocess

import pytest

from longlens.retrieval.subtitles import parse_srt, parse_vtt, read_sidecar, sidecar_files

VTT = """WEBVTT

NOTE a comment block

intro
00:00:01.250 --> 00:00:03.900 align:start
<v Ana>Hello <i>there</i></v>

01:02.500 --> 01:04.010
Second cue
on two lines
"""


def test_vtt_keeps_milliseconds():
    segs = parse_vtt(VTT)
    assert [(s.t_start, s.t_end, s.text) for s in segs] == [
        (1.25, 3.9, "Hello there"),
        (62.5, 64.01, "Second cue on two lines"),
    ]
    assert all(s.source == "subtitles" for s in segs)


def test_srt_parses_and_strips_markup():
    text = "1\n00:00:02,500 --> 00:00:04,000\n<i>Deep</i> {\\an8}water\n\n2\n00:01:00,000 --> 00:01:01,000\nEnd\n"
    segs = parse_srt(text)
    assert [(s.t_start, s.t_end, s.text) for s in segs] == [(2.5, 4.0, "Deep water"), (60.0, 61.0, "End")]


def test_reversed_and_broken_cues_are_reported_never_stored_backwards(tmp_path):
    """A reversed cue was stored with t_start > t_end, and broken cues vanished without a word."""
    srt_text = ("1\n00:00:10,000 --> 00:00:05,000\nBackwards\n\n2\n00:00:12,000 -> oops\nBroken\n\n"
                "3\n00:00:20,000 --> 00:00:21,000\nFine\n")
    vtt_text = "WEBVTT\n\n00:10.000 --> 00:05.000\nBackwards\n\n00:1x.000 --> 00:13.000\nBroken\n\n" \
               "00:20.000 --> 00:21.000\nFine\n"
    for name, text in (("film.srt", srt_text), ("film.vtt", vtt_text)):
        path = tmp_path / name
        path.write_text(text)
        warnings: list[str] = []
        segs = read_sidecar(path, warnings)
        assert [(s.text, s.t_start, s.t_end) for s in segs] == [("Backwards", 10.0, 10.0), ("Fine", 20.0, 21.0)]
        assert len(warnings) == 2 and all(w.startswith(f"{name}: ") for w in warnings)
        assert "ends before it starts" in warnings[0] and "1 subtitle cue(s) could not be read" in warnings[1]
    assert parse_vtt(VTT, clean := []) and clean == []  # a good file: no warning


def test_sidecar_discovery(tmp_path):
    video = tmp_path / "talk.mp4"
    video.write_bytes(b"x")
    for name in ("talk.srt", "talk.en.vtt", "talk.notes.txt", "talk2.srt", "other.srt"):
        (tmp_path / name).write_text("")
    assert [p.name for p in sidecar_files(video)] == ["talk.en.vtt", "talk.srt"]


def test_sidecar_in_latin1(tmp_path):
    path = tmp_path / "film.srt"
    path.write_bytes("1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9 cr\xe8me\n".encode("cp1252"))
    assert read_sidecar(path)[0].text == "Café crème"


def test_embedded_subtitle_track(media_dir, truth):
    """An .mkv with a muxed SubRip track: cues come back from the container itself."""
    from longlens.retrieval.parsers import ParseOptions
    from longlens.retrieval.parsers.video import parse_video

    plain = truth.make_media(media_dir / "muxsrc.mp4", truth.MediaSpec([], [], 6.0), audio=False)
    srt_file = truth.write_srt(media_dir / "muxsrc-cues.srt", [(1.5, 3.25, "Glacier calving season")])
    mkv = media_dir / "embedded.mkv"
    subprocess.run(
        ["ffmpeg", "-y", "-v", "error", "-i", str(plain), "-i", str(srt_file), "-map", "0", "-map", "1",
         "-c:v", "copy", "-c:s", "srt", str(mkv)],
        check=True,
    )  # fmt: skip
    doc = parse_video(mkv, ParseOptions(ocr=False, detector="none"))
    subs = [s for s in doc.segments if s.source == "subtitles"]
    assert len(subs) == 1 and "Glacier calving season" in subs[0].text
    assert subs[0].t_start == pytest.approx(1.5, abs=0.05) and subs[0].t_end == pytest.approx(3.25, abs=0.05)
