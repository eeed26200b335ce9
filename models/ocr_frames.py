"""On-screen text: Tesseract on keyframes, with noise filtered and repeats merged into one time range.

Reuses the document OCR helper (Tesseract CLI, outside the GIL, one OpenMP thread) so that several
frames can be read at once from threads. A slide stays on screen across many keyframes; text that
mostly repeats the previous reading (token overlap ≥ `REPEAT_OVERLAP`) extends that reading's time
range instead of making a new segment, so a slide is one segment from when it appears to when it changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np

from longlens.models.ocr import ocr_png
from longlens.schema import Segment

REPEAT_OVERLAP = 0.8
_WORD = re.compile(r"[^\W_]{2,}")  # at least two letters/digits: Tesseract's noise on pictures is mostly shorter


def ocr_frame(image: np.ndarray, language: str = "eng") -> str:
    """Clean text Tesseract reads on an RGB frame ("" when nothing legible)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    ok, png = cv2.imencode(".png", grey, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        return ""
    return clean_ocr_text(ocr_png(png.tobytes(), language, dpi=150))


def clean_ocr_text(text: str) -> str:
    """Keep lines that look like words: most of their characters belong to 2+ letter words."""
    kept = []
    for line in text.splitlines():
        line = " ".join(line.split())
        wordy = sum(len(w) for w in _WORD.findall(line))
        if wordy >= 3 and wordy >= 0.6 * len(line.replace(" ", "")):
            kept.append(line)
    return "\n".join(kept)


def _tokens(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def is_repeat(text: str, previous: str, overlap: float = REPEAT_OVERLAP) -> bool:
    """Whether `text` says (nearly) what `previous` said: shared tokens over the larger token set."""
    a, b = _tokens(text), _tokens(previous)
    if not a or not b:
        return not a and not b
    return len(a & b) / max(len(a), len(b)) >= overlap


@dataclass
class _Run:
    text: str
    t_start: float
    t_end: float


class OcrRuns:
    """Folds (time, text) readings in time order into segments; each lasts until the next different reading."""

    def __init__(self) -> None:
        self._runs: list[_Run] = []
        self._last_text = ""

    def add(self, t: float, text: str) -> None:
        if self._runs and self._last_text:  # the open run lasts until this reading
            self._runs[-1].t_end = max(self._runs[-1].t_end, t)
        if not text:
            self._last_text = ""
            return
        if self._runs and self._last_text and is_repeat(text, self._last_text):
            if len(text) > len(self._runs[-1].text):  # keep the fullest reading of the slide
                self._runs[-1].text = text
            self._last_text = text
            return
        self._runs.append(_Run(text, t, t))
        self._last_text = text

    def segments(self, end: float) -> list[Segment]:
        """Segments (source "ocr"); the last open run lasts until `end` (the next keyframe or the video's end)."""
        if self._runs and self._last_text:
            self._runs[-1].t_end = max(self._runs[-1].t_end, end)
        return [
            Segment(text=r.text, t_start=round(r.t_start, 2), t_end=round(r.t_end, 2), source="ocr") for r in self._runs
        ]
