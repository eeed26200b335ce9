"""Tesseract OCR through its command line: no Python binding needed, and it runs outside the GIL.

The image goes in on stdin as PNG (fastest end to end: compressing is cheaper than piping raw pixels),
the text comes back on stdout. OMP_THREAD_LIMIT=1 because Tesseract's OpenMP threads slow it down on
small machines; callers get parallelism by running several pages at once instead.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import subprocess

from PIL import Image

from longlens.schema import ParseError

OCR_TIMEOUT_S = 120


class OcrError(ParseError):
    """Tesseract failed on one image."""


@functools.lru_cache(maxsize=1)
def tesseract_path() -> str | None:
    """The `tesseract` executable, or None; `TESSERACT_CMD` overrides the PATH lookup."""
    return shutil.which(os.environ.get("TESSERACT_CMD", "tesseract"))


def tesseract_available() -> bool:
    """Whether OCR can run at all (cached: checked once per process)."""
    return tesseract_path() is not None


@functools.lru_cache(maxsize=1)
def tesseract_languages() -> frozenset[str]:
    """Installed language packs, e.g. {"eng", "osd"}; empty when Tesseract is missing or broken."""
    exe = tesseract_path()
    if exe is None:
        return frozenset()
    try:
        out = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    lines = (out.stdout + out.stderr).splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and " " not in line.strip())


def missing_languages(language: str) -> list[str]:
    """Parts of a Tesseract language spec such as "eng+deu" that are not installed."""
    installed = tesseract_languages()
    return [lang for lang in language.split("+") if lang and lang not in installed]


def ocr_image(image: Image.Image, language: str = "eng", dpi: int = 300) -> str:
    """Text Tesseract reads in `image`; raises OcrError when Tesseract is missing or fails."""
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=1)
    return ocr_png(buf.getvalue(), language, dpi)


def ocr_png(png: bytes, language: str = "eng", dpi: int = 300) -> str:
    """Like `ocr_image` for an already encoded image, so encoding and OCR can run in different threads."""
    exe = tesseract_path()
    if exe is None:
        raise OcrError("OCR is not available (tesseract is not installed)")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    cmd = [exe, "stdin", "stdout", "-l", language, "--dpi", str(dpi)]
    try:
        out = subprocess.run(cmd, input=png, capture_output=True, timeout=OCR_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired as exc:
        raise OcrError(f"OCR timed out after {OCR_TIMEOUT_S} s") from exc
    except OSError as exc:
        raise OcrError(f"could not run tesseract: {exc}") from exc
    if out.returncode != 0:
        detail = out.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OcrError(f"tesseract failed: {detail[-1] if detail else f'exit code {out.returncode}'}")
    return out.stdout.decode("utf-8", "replace")
