"""Keyframes, OCR run merging, detection text and the ASR segment splitter, on small inputs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from longlens.models.asr import split_at_pauses
from longlens.models.detector import DetectionRuns, HaarDetector, describe, make_detector
from longlens.models.ocr_frames import OcrRuns, clean_ocr_text, is_repeat
from longlens.retrieval.keyframes import iter_keyframes
from longlens.schema import LongLensError


def test_keyframes_follow_cuts_and_the_rate_cap(media_dir, truth):
    slides = [(2.0, 5.0, "FIRST"), (5.0, 9.0, "SECOND"), (9.5, 10.0, "FLASH")]
    path = truth.make_media(media_dir / "cuts.mp4", truth.MediaSpec(slides, [], 30.0), audio=False)
    frames = list(iter_keyframes(path, min_interval=2.0, max_interval=10.0))
    times = [f.t for f in frames]
    assert times == sorted(times) and times[0] == 0.0
    assert all(b - a <= 10.0 + 0.5 for a, b in zip(times, [*times[1:], 30.0], strict=True))  # at least one per 10 s
    for cut in (2.0, 5.0):
        assert any(abs(t - cut) <= 0.5 for t in times), times
    assert sum(1 for t in times if 9.0 <= t < 12.0) <= 2  # the 0.5 s flash is capped, not a burst of frames
    static = [f for f in frames if f.t > 15]
    assert static and not any(f.changed for f in static)  # unchanged periodic samples are marked as such


def test_ocr_runs_merge_repeats_and_end_at_changes():
    runs = OcrRuns()
    runs.add(0.0, "")
    runs.add(2.0, "Quarterly revenue report\nfiscal year 2026")
    runs.add(4.0, "Quarterly revenue report\nfiscal year 2026 ,")
    runs.add(6.0, "Zebra migration patterns")
    runs.add(8.0, "")
    runs.add(9.0, "Quarterly revenue report\nfiscal year 2026")
    segs = runs.segments(end=12.0)
    assert [(s.t_start, s.t_end, s.text.split()[0]) for s in segs] == [
        (2.0, 6.0, "Quarterly"),
        (6.0, 8.0, "Zebra"),
        (9.0, 12.0, "Quarterly"),
    ]


def test_ocr_noise_filter_and_fuzzy_repeat():
    assert clean_ocr_text("~ | . ,\nHello world\n=- _ ~\nx") == "Hello world"
    assert is_repeat("the quick brown fox jumps", "the quick brown fox jumps over")
    assert not is_repeat("the quick brown fox", "lazy dogs sleep all day")


def test_detection_text_and_runs():
    assert describe({"person": 2, "face": 1}) == "on screen: 2 people, 1 face"
    assert describe({}) == ""
    runs = DetectionRuns()
    for t, counts in [(0, {}), (2, {"person": 1}), (4, {"person": 1}), (6, {"person": 2}), (8, {})]:
        runs.add(t, counts)
    segs = runs.segments(end=10)
    assert [(s.t_start, s.t_end, s.text) for s in segs] == [
        (2, 6, "on screen: 1 person"),
        (6, 8, "on screen: 2 people"),
    ]
    assert all(s.source == "objects" for s in segs)


def test_haar_detector_runs_on_a_frame():
    detector = make_detector("haar")
    assert isinstance(detector, HaarDetector)
    counts = detector.detect(np.full((360, 640, 3), 40, dtype=np.uint8))
    assert counts == {}  # a flat frame holds nobody
    assert make_detector("none") is None


def test_detector_errors_are_clear(tmp_path):
    with pytest.raises(LongLensError, match="opencv-data"):
        HaarDetector(str(tmp_path))
    with pytest.raises(LongLensError, match="unknown detector"):
        make_detector("yolo9000")


def test_speech_split_at_pauses():
    def word(text, start, end):
        return SimpleNamespace(word=text, start=start, end=end)

    piece = SimpleNamespace(
        text=" The secret password is pineapple. Our comet.",
        start=1.6,
        end=13.2,
        words=[word(" The", 1.6, 2.0), word(" secret", 2.0, 2.5), word(" pineapple.", 2.5, 3.9),
               word(" Our", 10.8, 11.2), word(" comet.", 11.2, 13.2)],
    )  # fmt: skip
    segs = split_at_pauses(piece)
    assert [(s.t_start, s.t_end, s.text) for s in segs] == [
        (1.6, 3.9, "The secret pineapple."),
        (10.8, 13.2, "Our comet."),
    ]
