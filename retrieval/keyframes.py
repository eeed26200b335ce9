"""Keyframes: frames worth reading (OCR) and looking at (detection), picked by scene change and a rate cap.

The cut detector compares 128x72 grey thumbnails of frames a fraction of a second apart and measures the
fraction of pixels whose brightness moved by more than `PIXEL_DELTA`: cheap (FFmpeg's scaler makes the
thumbnail, numpy compares 9,216 bytes), blind to compression noise, and sensitive to what matters here:
a new line of text on a slide changes ~1% of the thumbnail, a scene cut most of it. A cut yields a keyframe
unless one was taken less than `min_interval` ago (then the first frame after the gap is taken, dated to
the cut); a static scene still yields one every `max_interval` seconds, marked `changed=False` when it
looks like the previous keyframe so that callers can skip re-reading it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from longlens.schema import ParseError

THUMB_W, THUMB_H = 128, 72
PIXEL_DELTA = 24  # of 255: above compression noise and sensor grain
ANALYSIS_STEP = 0.25  # seconds between the frames compared for cuts
MAX_SIDE = 1280  # keyframes are downscaled to this longest side: enough for OCR of slide text


@dataclass
class Keyframe:
    """One sampled frame: its time, full-colour pixels (RGB, HxWx3) and whether it differs from the last one."""

    t: float
    image: np.ndarray
    changed: bool
    diff: float


def _thumb(frame: av.VideoFrame) -> np.ndarray:
    return frame.reformat(width=THUMB_W, height=THUMB_H, format="gray").to_ndarray().astype(np.int16)


def _rgb(frame: av.VideoFrame) -> np.ndarray:
    w, h = frame.width, frame.height
    scale = min(1.0, MAX_SIDE / max(w, h))
    if scale < 1.0:
        w, h = int(w * scale) // 2 * 2, int(h * scale) // 2 * 2
    return frame.reformat(width=w, height=h, format="rgb24").to_ndarray()


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of thumbnail pixels that changed visibly."""
    return float((np.abs(a - b) > PIXEL_DELTA).mean())


def iter_keyframes(
    path: Path,
    *,
    min_interval: float = 2.0,
    max_interval: float = 10.0,
    threshold: float = 0.005,
) -> Iterator[Keyframe]:
    """Keyframes of the first video stream in time order; decoding errors after the first frame end the walk."""
    if min_interval <= 0 or max_interval < min_interval:
        raise ValueError("need 0 < min_interval <= max_interval")
    last_t = -1e9  # time of the last analysed frame
    last_thumb: np.ndarray | None = None
    kept_t, kept_thumb = -1e9, None
    pending_cut, cut_t = False, 0.0
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise ParseError(f"cannot open the video track: {exc}") from exc
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                if frame.time is None or frame.time - last_t < ANALYSIS_STEP:
                    continue
                t, thumb = float(frame.time), _thumb(frame)
                cut = last_thumb is not None and _diff(thumb, last_thumb) >= threshold
                last_t, last_thumb = t, thumb
                if cut:
                    pending_cut, cut_t = True, t
                due = t - kept_t >= max_interval or kept_thumb is None
                if (pending_cut and t - kept_t >= min_interval) or due:
                    diff = 1.0 if kept_thumb is None else _diff(thumb, kept_thumb)
                    # a frame taken late because of the rate cap is dated to the cut that made it new
                    when = cut_t if pending_cut and not due else t
                    yield Keyframe(t=when, image=_rgb(frame), changed=diff >= threshold / 2, diff=diff)
                    kept_t, kept_thumb, pending_cut = when, thumb, False
        except av.error.FFmpegError as exc:
            if kept_thumb is None:
                raise ParseError(f"cannot decode the video track: {exc}") from exc
