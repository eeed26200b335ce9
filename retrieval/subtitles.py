"""Subtitles → time-stamped segments: sidecar .srt/.vtt files next to the video and embedded tracks.

SubRip goes through the `srt` package; WebVTT is parsed here because webvtt-py's seconds truncate to
whole seconds and a citation should land on the right second. Embedded tracks are decoded with PyAV
(text and ASS subtitles; bitmap subtitles such as DVD/PGS carry no text and are skipped).
"""

from __future__ import annotations

import re
from pathlib import Path

import av
import srt

from longlens.retrieval.parsers.detect import SUBTITLE_SUFFIXES
from longlens.schema import Segment

_VTT_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{3})")
_VTT_CUE = re.compile(rf"^\s*({_VTT_TIME.pattern})\s*-->\s*({_VTT_TIME.pattern})")
_TAGS = re.compile(r"<[^>]+>|\{\\[^}]*\}")
_ASS_FIELDS_BEFORE_TEXT = 8  # ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text (FFmpeg's packets)


def sidecar_files(video: Path) -> list[Path]:
    """`<stem>.srt`, `<stem>.vtt` and language-tagged `<stem>.<lang>.srt/.vtt` beside the video, sorted."""
    found = []
    for p in video.parent.glob(f"{glob_escape(video.stem)}.*"):
        if p.suffix.lower() not in SUBTITLE_SUFFIXES or not p.is_file():
            continue
        middle = p.name[len(video.stem) : -len(p.suffix)]
        if middle == "" or (middle.startswith(".") and "." not in middle[1:] and len(middle) <= 12):
            found.append(p)
    return sorted(found)


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def clean_cue(text: str) -> str:
    """Markup (<i>, <c.x>, {\\an8}) and line breaks removed: one line of plain text."""
    return " ".join(_TAGS.sub("", text.replace("\\N", " ").replace("\\n", " ")).split())


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def parse_srt(text: str, warnings: list[str] | None = None) -> list[Segment]:
    """Cues of a SubRip file; malformed cues are left out (`srt`'s lenient parser), and counted in `warnings`."""
    out = []
    parsed = 0
    for cue in srt.parse(text, ignore_errors=True):
        parsed += 1
        line = clean_cue(cue.content)
        if line:
            out.append(_cue(line, cue.start.total_seconds(), cue.end.total_seconds(), warnings))
    blocks = sum(1 for b in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")) if b.strip())
    _count_broken(blocks - parsed, warnings)
    return out


def _count_broken(n: int, warnings: list[str] | None) -> None:
    if n > 0 and warnings is not None:
        warnings.append(f"{n} subtitle cue(s) could not be read and were left out")


def _cue(text: str, start: float, end: float, warnings: list[str] | None) -> Segment:
    """A cue's segment; one that ends before it starts is kept as a moment at its start, with a warning."""
    if end < start:
        if warnings is not None:
            warnings.append(f"subtitle cue at {_clock(start)} ends before it starts ({_clock(end)}): "
                            f"kept as a moment at {_clock(start)}")
        end = start
    return _seg(text, start, end)


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:d}:{whole % 3600 // 60:02d}:{whole % 60:02d}.{round((seconds - whole) * 1000):03d}"


def _vtt_seconds(m: re.Match[str], offset: int) -> float:
    h, mnt, s, ms = (m.group(offset + i) for i in range(4))
    return int(h or 0) * 3600 + int(mnt) * 60 + int(s) + int(ms) / 1000


def parse_vtt(text: str, warnings: list[str] | None = None) -> list[Segment]:
    """Cues of a WebVTT file with millisecond timestamps (NOTE/STYLE blocks and cue ids are ignored); a block
    with a cue arrow but no readable timing is left out and counted in `warnings`."""
    out = []
    broken = 0
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = block.strip("\n").split("\n")
        for i, line in enumerate(lines):
            m = _VTT_CUE.match(line)
            if m:
                cue = clean_cue(" ".join(lines[i + 1 :]))
                if cue:
                    out.append(_cue(cue, _vtt_seconds(m, 2), _vtt_seconds(m, 7), warnings))
                break
        else:
            broken += any("-->" in line for line in lines)
    _count_broken(broken, warnings)
    return out


def read_sidecar(path: Path, warnings: list[str] | None = None) -> list[Segment]:
    """The cues of a sidecar file; what is wrong with its cues is added to `warnings`, named by the file."""
    text = _read_text(path)
    found: list[str] = []
    cues = parse_vtt(text, found) if path.suffix.lower() == ".vtt" else parse_srt(text, found)
    if warnings is not None:
        warnings.extend(f"{path.name}: {w}" for w in found)
    return cues


def embedded_subtitles(path: Path, stream_index: int) -> list[Segment]:
    """Text cues of one embedded subtitle stream, decoded with PyAV."""
    out: list[Segment] = []
    with av.open(str(path)) as container:
        stream = next(s for s in container.streams if s.index == stream_index)
        for packet in container.demux(stream):
            if packet.pts is None or packet.time_base is None:
                continue
            start = float(packet.pts * packet.time_base)
            end = start + float((packet.duration or 0) * packet.time_base)
            texts = []
            for item in packet.decode():  # PyAV ≥14: subtitle objects; older: SubtitleSets of rects
                rects = item if hasattr(item, "__iter__") and not hasattr(item, "ass") else [item]
                texts += [_rect_text(r) for r in rects]
            line = clean_cue(" ".join(t for t in texts if t))
            if line:
                out.append(_seg(line, start, max(end, start)))
    return out


def _rect_text(rect: object) -> str:
    for attr in ("dialogue", "text"):  # `dialogue` is the ASS event's text without its fields
        text = getattr(rect, attr, None)
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        if text:
            return str(text)
    ass = getattr(rect, "ass", None)
    if isinstance(ass, bytes):
        ass = ass.decode("utf-8", "replace")
    if not ass:
        return ""
    return str(ass).split(",", _ASS_FIELDS_BEFORE_TEXT)[-1]


def _seg(text: str, start: float, end: float) -> Segment:
    return Segment(text=text, t_start=round(start, 3), t_end=round(end, 3), source="subtitles")
