"""Video → time-stamped auxiliary text (Video-RAG): speech, on-screen text, objects and subtitles.

Every segment carries `t_start`/`t_end` (seconds) and `source` ("speech", "ocr", "objects",
"subtitles"), and its text starts with a tag saying where it comes from — "[speech]", "[on screen]",
"[objects]", "[subtitles]" — so that a passage shown to the LLM or matched by keywords says whether
something was said, shown or seen. ASR runs in its own thread beside the frame walk, whose keyframes
are read (Tesseract) and looked at (detector) in a small thread pool: Whisper (CTranslate2), FFmpeg
decoding and Tesseract all run outside the GIL.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from longlens.retrieval.media_probe import MediaInfo, probe_media
from longlens.retrieval.parsers._common import ParseOptions, finalize
from longlens.schema import LongLensError, ParsedDocument, ParseError, Segment

log = logging.getLogger(__name__)

TAGS = {"speech": "[speech]", "ocr": "[on screen]", "objects": "[objects]", "subtitles": "[subtitles]"}
SOURCE_ORDER = {"subtitles": 0, "speech": 1, "ocr": 2, "objects": 3}
NO_TEXT = "no speech, on-screen text, objects or subtitles found in the video"


@dataclass
class StageTimes:
    """Seconds spent per stage (wall time inside each stage's own thread), for benchmarks and logs."""

    probe: float = 0.0
    asr: float = 0.0
    frames: float = 0.0
    ocr: float = 0.0
    detection: float = 0.0
    subtitles: float = 0.0
    keyframes: int = 0
    extra: dict[str, float] = field(default_factory=dict)


LAST_TIMES = threading.local()
"""`LAST_TIMES.value` holds the StageTimes of the last video parsed in this thread."""


def parse_video(path: Path, options: ParseOptions) -> ParsedDocument:
    """Probe, then run ASR beside keyframe OCR/detection, add subtitles; one ParseError for bad input."""
    times = StageTimes()
    LAST_TIMES.value = times
    t0 = time.perf_counter()
    info = probe_media(path, options.video_max_seconds)
    times.probe = time.perf_counter() - t0
    warnings = list(info.warnings)
    segments: list[Segment] = []

    asr_result: dict[str, object] = {}
    asr_thread, cancel = None, threading.Event()
    if info.has_audio and options.asr:
        asr_thread = threading.Thread(target=_run_asr, args=(path, options, asr_result, times, cancel), daemon=True)
        asr_thread.start()
    try:
        if info.has_video:
            segments += _visual_segments(path, info, options, times, warnings)
        t1 = time.perf_counter()
        segments += _subtitle_segments(path, info, warnings)
        times.subtitles = time.perf_counter() - t1
    except BaseException:
        cancel.set()  # stop Whisper at its next 30 s window instead of transcribing a file that failed
        raise
    if asr_thread is not None:
        asr_thread.join()
        if "error" in asr_result:
            err = asr_result["error"]
            if isinstance(err, LongLensError):
                raise err
            raise ParseError(f"speech recognition failed: {err}") from err  # type: ignore[misc]
        segments += asr_result.get("segments", [])  # type: ignore[arg-type]

    segments.sort(key=lambda s: (s.t_start or 0.0, SOURCE_ORDER.get(s.source or "", 9)))
    for seg in segments:
        seg.text = f"{TAGS[seg.source or 'speech']} {seg.text}"
    title = info.title or path.stem.replace("_", " ")
    doc = finalize("video", title, segments, path, warnings=warnings, no_text_message=NO_TEXT)
    doc.duration = round(info.duration, 3)
    return doc


def _run_asr(
    path: Path, options: ParseOptions, out: dict[str, object], times: StageTimes, cancel: threading.Event
) -> None:
    from longlens.models.asr import transcribe

    t0 = time.perf_counter()
    try:
        out["segments"] = transcribe(
            path,
            model=options.asr_model,
            device=options.asr_device,
            compute_type=options.asr_compute_type,
            language=options.asr_language,
            beam_size=options.asr_beam_size,
            cancel=cancel,
        )
    except Exception as exc:  # re-raised in the parsing thread with the file's context
        out["error"] = exc
    times.asr = time.perf_counter() - t0


def _visual_segments(
    path: Path, info: MediaInfo, options: ParseOptions, times: StageTimes, warnings: list[str]
) -> list[Segment]:
    """Keyframes → OCR runs and detection runs, each frame handled in the pool while decoding goes on."""
    from longlens.models.detector import DetectionRuns, make_detector
    from longlens.models.ocr import OcrError, missing_languages, tesseract_available
    from longlens.models.ocr_frames import OcrRuns, ocr_frame
    from longlens.retrieval.keyframes import iter_keyframes

    do_ocr = options.ocr
    if do_ocr and not tesseract_available():
        warnings.append("on-screen text was not read: tesseract is not installed")
        do_ocr = False
    elif do_ocr and missing_languages(options.ocr_language):
        warnings.append(f"on-screen text was not read: Tesseract language '{options.ocr_language}' is not installed")
        do_ocr = False
    try:
        detector = make_detector(options.detector, options.detector_labels)
    except LongLensError as exc:  # e.g. no opencv-data: the rest of the video is still worth indexing
        warnings.append(f"objects were not detected: {exc}")
        detector = None
    det_lock = threading.Lock()  # detectors need not be thread-safe
    stage_lock = threading.Lock()

    ocr_failures: list[str] = []

    def read(image):  # noqa: ANN001, ANN202
        t = time.perf_counter()
        try:
            text = ocr_frame(image, options.ocr_language)
        except OcrError as exc:  # one unreadable frame must not cost the whole video
            ocr_failures.append(str(exc))
            text = ""
        with stage_lock:
            times.ocr += time.perf_counter() - t
        return text

    def look(image):  # noqa: ANN001, ANN202
        t = time.perf_counter()
        with det_lock:
            counts = detector.detect(image)  # type: ignore[union-attr]
        with stage_lock:
            times.detection += time.perf_counter() - t
        return counts

    # Futures are kept in keyframe order; a bounded window keeps at most a few frames in memory.
    pending: list[tuple[float, bool, Future | None, Future | None]] = []
    ocr_runs, det_runs = OcrRuns(), DetectionRuns()
    last_text, last_counts = "", {}

    def drain(limit: int) -> None:
        nonlocal last_text, last_counts
        while len(pending) > limit:
            t, changed, f_text, f_counts = pending.pop(0)
            if f_text is not None:
                last_text = f_text.result()
            if f_counts is not None:
                last_counts = f_counts.result()
            if do_ocr:
                ocr_runs.add(t, last_text)
            if detector is not None:
                det_runs.add(t, last_counts)

    t0 = time.perf_counter()
    decode_wait = 0.0
    with ThreadPoolExecutor(max_workers=max(1, options.video_threads), thread_name_prefix="video-frames") as pool:
        for kf in iter_keyframes(
            path,
            min_interval=options.keyframe_min_interval,
            max_interval=options.keyframe_max_interval,
            threshold=options.scene_threshold,
        ):
            times.keyframes += 1
            # an unchanged frame keeps the previous reading: saves OCR/detection on static scenes
            f_text = pool.submit(read, kf.image) if do_ocr and kf.changed else None
            f_counts = pool.submit(look, kf.image) if detector is not None and kf.changed else None
            pending.append((kf.t, kf.changed, f_text, f_counts))
            w = time.perf_counter()
            drain(2 * max(1, options.video_threads))
            decode_wait += time.perf_counter() - w
        times.frames = time.perf_counter() - t0 - decode_wait
        drain(0)
    if ocr_failures:
        warnings.append(f"OCR failed on {len(ocr_failures)} keyframe(s): {ocr_failures[0]}")
    return ocr_runs.segments(info.duration) + det_runs.segments(info.duration)


def _subtitle_segments(path: Path, info: MediaInfo, warnings: list[str]) -> list[Segment]:
    from longlens.retrieval.subtitles import embedded_subtitles, read_sidecar, sidecar_files

    out: list[Segment] = []
    for track in info.subtitles:
        try:
            out += embedded_subtitles(path, track.index)
        except Exception as exc:  # a broken subtitle track must not lose the rest of the video
            warnings.append(f"embedded subtitle track {track.index} ({track.codec}) could not be read: {exc}")
    for sidecar in sidecar_files(path):
        try:
            out += read_sidecar(sidecar, warnings)
        except (OSError, ValueError) as exc:
            warnings.append(f"subtitle file {sidecar.name} could not be read: {exc}")
    return out
