"""Objects on screen, as text a question can match: "on screen: 2 people, 1 face" over a time range.

Detectors are pluggable (`ObjectDetector`: RGB frame → label counts). The offline default is OpenCV's
Haar cascades from Debian's opencv-data (faces, full and upper bodies): weak, but the only general
detector that ships without a download. Users with a network can name an HF open-vocabulary detector
("owlv2" or "grounding-dino", optionally ":<hf model name>") that looks for `labels`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from longlens.schema import LongLensError, Segment

HAAR_DIRS = (
    "/usr/share/opencv4/haarcascades",
    "/usr/share/opencv/haarcascades",
    "/usr/local/share/opencv4/haarcascades",
)
HAAR_CASCADES = {
    "face": "haarcascade_frontalface_default.xml",
    "full body": "haarcascade_fullbody.xml",
    "upper body": "haarcascade_upperbody.xml",
}
HF_DEFAULTS = {"owlv2": "google/owlv2-base-patch16-ensemble", "grounding-dino": "IDEA-Research/grounding-dino-tiny"}
PLURALS = {"person": "people", "face": "faces"}
DETECT_WIDTH = 480  # Haar cascades on a small frame: fast, and small faces are not worth reporting


class ObjectDetector(Protocol):
    """Anything that counts objects in an RGB frame (HxWx3 uint8); must be safe to call from one thread at a time."""

    name: str

    def detect(self, image: np.ndarray) -> dict[str, int]: ...


class HaarDetector:
    """People and faces with OpenCV Haar cascades; a person is counted from faces or bodies, whichever is more."""

    name = "haar"

    def __init__(self, cascade_dir: str | None = None) -> None:
        if not hasattr(cv2, "CascadeClassifier"):  # OpenCV 5 moved the cascade classifier out of the main module
            raise LongLensError(
                f"OpenCV {cv2.__version__} has no CascadeClassifier: install opencv-python-headless>=4.10,<5"
            )
        folder = _find_haar_dir(cascade_dir)
        self._cascades = {label: cv2.CascadeClassifier(str(folder / f)) for label, f in HAAR_CASCADES.items()}
        empty = [label for label, c in self._cascades.items() if c.empty()]
        if empty:
            raise LongLensError(f"OpenCV could not load the Haar cascades for {', '.join(empty)} from {folder}")

    def detect(self, image: np.ndarray) -> dict[str, int]:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        scale = DETECT_WIDTH / grey.shape[1]
        if scale < 1:
            grey = cv2.resize(grey, (DETECT_WIDTH, int(grey.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        grey = cv2.equalizeHist(grey)
        h = grey.shape[0]
        counts = {}
        for label, cascade in self._cascades.items():
            min_side = h // (10 if label == "face" else 4)
            found = cascade.detectMultiScale(grey, scaleFactor=1.15, minNeighbors=6, minSize=(min_side, min_side))
            counts[label] = len(found)
        faces, bodies = counts["face"], max(counts["full body"], counts["upper body"])
        people = max(faces, bodies)
        return {k: v for k, v in {"person": people, "face": faces}.items() if v}


def _find_haar_dir(cascade_dir: str | None) -> Path:
    candidates = [cascade_dir] if cascade_dir else [os.environ.get("LONGLENS_HAAR_DIR", ""), *HAAR_DIRS]
    data = getattr(cv2, "data", None)  # pip's opencv wheels carry the cascades too
    if not cascade_dir and data is not None and getattr(data, "haarcascades", ""):
        candidates.append(data.haarcascades)
    for c in candidates:
        if c and all((Path(c) / f).exists() for f in HAAR_CASCADES.values()):
            return Path(c)
    raise LongLensError(
        "object detection needs OpenCV's Haar cascades (apt-get install opencv-data), or set "
        "LONGLENS_HAAR_DIR; set the detector to 'none' to index videos without it"
    )


class HFOpenVocabDetector:
    """An HF zero-shot detector (OWLv2, Grounding DINO) via transformers' pipeline (model local or network)."""

    def __init__(self, model: str, labels: Sequence[str], threshold: float = 0.3, device: str | int = -1) -> None:
        from transformers import pipeline

        self.name = model
        self.labels = list(labels)
        self.threshold = threshold
        self._pipe = pipeline("zero-shot-object-detection", model=model, device=device)

    def detect(self, image: np.ndarray) -> dict[str, int]:
        from PIL import Image

        found = self._pipe(Image.fromarray(image), candidate_labels=self.labels, threshold=self.threshold)
        counts: dict[str, int] = {}
        for d in found:
            counts[d["label"]] = counts.get(d["label"], 0) + 1
        return counts


def make_detector(spec: str, labels: Sequence[str] = ()) -> ObjectDetector | None:
    """A detector by name: "haar" (default), "none"/"" (no detection), "owlv2[:name]", "grounding-dino[:name]"."""
    kind, _, model = spec.partition(":")
    kind = kind.strip().lower()
    if kind in ("", "none", "off"):
        return None
    if kind == "haar":
        return HaarDetector(model or None)
    if kind in HF_DEFAULTS:
        return HFOpenVocabDetector(model or HF_DEFAULTS[kind], labels or ("person",))
    raise LongLensError(f"unknown detector '{spec}': use haar, none, owlv2[:model] or grounding-dino[:model]")


def describe(counts: dict[str, int]) -> str:
    """Counts as text, e.g. "on screen: 2 people, 1 face"; "" when nothing was found."""
    parts = []
    for label, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if n > 0:
            parts.append(f"{n} {PLURALS.get(label, label + 's') if n > 1 else label}")
    return "on screen: " + ", ".join(parts) if parts else ""


@dataclass
class _Span:
    text: str
    t_start: float
    t_end: float


class DetectionRuns:
    """Folds per-keyframe descriptions into time ranges: consecutive keyframes saying the same merge into one."""

    def __init__(self) -> None:
        self._spans: list[_Span] = []
        self._open = False

    def add(self, t: float, counts: dict[str, int]) -> None:
        text = describe(counts)
        if self._spans and self._open:
            self._spans[-1].t_end = t
        if not text:
            self._open = False
            return
        if self._open and self._spans[-1].text == text:
            return
        self._spans.append(_Span(text, t, t))
        self._open = True

    def segments(self, end: float) -> list[Segment]:
        """Segments (source "objects"); the last open span lasts until `end`."""
        if self._spans and self._open:
            self._spans[-1].t_end = max(self._spans[-1].t_end, end)
        return [
            Segment(text=s.text, t_start=round(s.t_start, 2), t_end=round(s.t_end, 2), source="objects")
            for s in self._spans
        ]
