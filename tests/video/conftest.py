"""Short test videos made at test time with ffmpeg (drawtext slides, espeak-ng speech, subtitles).

Nothing is committed: each video is a few seconds long and built once per session. Known times are the
ground truth the tests check parsing and search against (±2 s).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

# (start, end, text) drawn on screen; (start, text) spoken; (start, end, text) subtitle cues.
# Two scenes 50 s apart, so that they land in different chunks (the chunker's media window is 45 s);
# the silence between them costs Whisper nothing (VAD skips it) and OCR little (unchanged keyframes are skipped).
SLIDES = [(1.0, 7.0, "QUARTERLY REVENUE REPORT"), (50.0, 56.0, "ZEBRA MIGRATION PATTERNS")]
SPEECH = [(2.0, "The secret password is pineapple."), (51.0, "Our telescope observed a bright comet.")]
CUES = [(4.0, 6.5, "Welcome to the harbour lighthouse tour"), (53.0, 55.5, "Volcanic basalt forms columns")]
DURATION = 60.0


@dataclass
class MediaSpec:
    slides: list[tuple[float, float, str]]
    speech: list[tuple[float, str]]
    duration: float
    size: str = "640x360"
    fps: int = 10


def _run(cmd: list[str]) -> None:
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {out.stderr[-2000:]}")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'").replace(",", "\\,")


def make_media(path: Path, spec: MediaSpec, *, video: bool = True, audio: bool = True, extra: list[str] = ()) -> Path:
    """Render `spec` with ffmpeg: slides as drawtext on a dark background, speech as espeak-ng clips mixed in."""
    work = path.parent / f".{path.stem}-parts"
    work.mkdir(exist_ok=True)
    inputs: list[str] = []
    filters: list[str] = []
    maps: list[str] = []
    if video:
        inputs += ["-f", "lavfi", "-i", f"color=c=0x203040:s={spec.size}:r={spec.fps}:d={spec.duration}"]
        draws = [
            f"drawtext=fontfile={FONT}:text='{_escape(text)}':fontsize=36:fontcolor=white:"
            f"x=(w-text_w)/2:y=(h-text_h)/2:enable='between(t,{a},{b})'"
            for a, b, text in spec.slides
        ]
        filters.append(f"[0:v]{','.join(draws) or 'null'}[v]")
        maps += ["-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        base = len(inputs) // 4
        inputs += ["-f", "lavfi", "-i", f"anullsrc=r=16000:cl=mono:d={spec.duration}"]
        labels = [f"[{base}:a]"]
        for i, (start, text) in enumerate(spec.speech):
            wav = work / f"speech{i}.wav"
            _run(["espeak-ng", "-s", "150", "-w", str(wav), text])
            inputs += ["-i", str(wav)]
            ms = int(start * 1000)
            filters.append(f"[{base + 1 + i}:a]aresample=16000,adelay={ms}:all=1[s{i}]")
            labels.append(f"[s{i}]")
        filters.append(f"{''.join(labels)}amix=inputs={len(labels)}:normalize=0:duration=first[a]")
        maps += ["-map", "[a]", "-c:a", "aac", "-b:a", "64k"]
    cmd = ["ffmpeg", "-y", "-v", "error", *inputs, "-filter_complex", ";".join(filters), *maps, *extra]
    _run([*cmd, "-t", str(spec.duration), str(path)])
    shutil.rmtree(work, ignore_errors=True)
    return path


def write_srt(path: Path, cues: list[tuple[float, float, str]]) -> Path:
    def stamp(t: float) -> str:
        ms = round(t * 1000)
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    path.write_text("".join(f"{i}\n{stamp(a)} --> {stamp(b)}\n{text}\n\n" for i, (a, b, text) in enumerate(cues, 1)))
    return path


def near(segments, needle: str, t: float, source: str, tol: float = 2.0) -> bool:
    """Whether a segment of `source` containing `needle` (case-insensitive) starts within `tol` s of `t`."""
    return any(s.source == source and needle.lower() in s.text.lower() and abs(s.t_start - t) <= tol for s in segments)


class Truth:
    """What the generated media hold, and the helpers that make more (tests import nothing from here)."""

    SLIDES, SPEECH, CUES, DURATION = SLIDES, SPEECH, CUES, DURATION
    MediaSpec = MediaSpec
    make_media = staticmethod(make_media)
    write_srt = staticmethod(write_srt)
    near = staticmethod(near)


@pytest.fixture(scope="session")
def truth() -> type[Truth]:
    return Truth


@pytest.fixture(scope="session")
def tools_ok() -> None:
    missing = [t for t in ("ffmpeg", "espeak-ng", "tesseract") if shutil.which(t) is None]
    if missing or not Path(FONT).exists():
        pytest.skip(f"video tests need {', '.join(missing) or FONT}")


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory, tools_ok) -> Path:
    return tmp_path_factory.mktemp("video")


@pytest.fixture(scope="session")
def lecture(media_dir) -> Path:
    """60 s: two slides, two spoken sentences, a sidecar .srt with two cues."""
    path = make_media(media_dir / "lecture.mp4", MediaSpec(SLIDES, SPEECH, DURATION))
    write_srt(media_dir / "lecture.srt", CUES)
    return path


@pytest.fixture(scope="session")
def lecture_doc(lecture):
    """The lecture parsed once (Whisper runs once per session for it)."""
    from longlens.retrieval.parsers import ParseOptions
    from longlens.retrieval.parsers.video import parse_video

    return parse_video(lecture, ParseOptions())
