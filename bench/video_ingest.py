"""Video ingestion speed: real-time factor of each stage (ASR, frame sampling, OCR, detection, embedding).

    python bench/video_ingest.py                 # a generated 10-minute video; table + bench/out/video_ingest.json
    python bench/video_ingest.py --minutes 2     # quicker

The video is made with ffmpeg: 1280x720 at 25 fps, a slide of drawn text every 20 s, a small moving box
(motion the cut detector must not mistake for cuts), an espeak-ng sentence during each slide and a
sidecar .srt with one cue per slide. It is ingested with `LongLens` (one process, as `longlens ingest`
does for a single file). The real-time factor (RTF) is stage seconds / video seconds: below 1 is faster
than real time. ASR runs in a thread beside frame sampling + OCR + detection, so the per-stage seconds
add up to more than the parse wall time. Generation is not timed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SLIDE_SECONDS = 20
TOPICS = (
    "glacier basin", "river delta", "coral reef", "desert rainfall", "alpine meadow", "wetland oxygen",
    "estuary tides", "forest canopy", "volcanic soil", "bison migration", "mangrove roots", "kelp decline",
    "tundra permafrost", "savanna grazing", "monsoon flooding", "canyon erosion", "lichen growth", "salmon runs",
    "peat bogs", "dune formation", "aquifer depletion", "hurricane tracks", "seagrass beds", "cave bats",
    "orchid pollination", "lava tubes", "iceberg drift", "krill swarms", "bamboo forests", "firefly counts",
    "owl nesting", "beaver dams", "sponge gardens", "geyser cycles", "moss carpets", "heron rookeries",
)  # fmt: skip


def _slide(i: int) -> tuple[str, str, str]:
    """Slide title, spoken sentence and subtitle line for slide i (distinct words per slide)."""
    topic = TOPICS[i % len(TOPICS)] + ("" if i < len(TOPICS) else f" {i // len(TOPICS) + 1}")
    title = f"PART {i + 1}: {topic.upper()}"
    said = f"In part {i + 1} we look at the {topic}, and the measured value is {17 * (i + 3)} units."
    return title, said, f"Part {i + 1}. Notes on the {topic}."


def _run(cmd: list[str]) -> None:
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {out.stderr[-2000:]}")


def _stamp(t: float) -> str:
    ms = round(t * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def make_video(folder: Path, minutes: float) -> tuple[Path, int]:
    """The benchmark video and its sidecar .srt; returns (path, number of slides)."""
    duration = minutes * 60
    n = max(1, int(duration // SLIDE_SECONDS))
    path = folder / "bench_lecture.mp4"
    draws, inputs, mixes, cues = [], [], [], []
    for i in range(n):
        title, said, cue = _slide(i)
        a = i * SLIDE_SECONDS
        text = title.replace(":", "\\:").replace(",", "\\,")
        draws.append(
            f"drawtext=fontfile={FONT}:text='{text}':fontsize=56:fontcolor=white:x=(w-text_w)/2:y=h/3:"
            f"enable='between(t,{a + 0.5},{a + SLIDE_SECONDS - 0.5})'"
        )
        wav = folder / f"s{i}.wav"
        _run(["espeak-ng", "-s", "160", "-w", str(wav), said])
        inputs += ["-i", str(wav)]
        mixes.append(f"[{i + 2}:a]aresample=16000,adelay={int((a + 2) * 1000)}:all=1[s{i}]")
        cues.append(f"{i + 1}\n{_stamp(a + 8)} --> {_stamp(a + 12)}\n{cue}\n")
    video = f"[0:v]drawbox=x='mod(t*40,1200)':y=600:w=40:h=40:color=orange:t=fill:enable=1,{','.join(draws)}[v]"
    labels = "[1:a]" + "".join(f"[s{i}]" for i in range(n))
    audio = f"{';'.join(mixes)};{labels}amix=inputs={n + 1}:normalize=0:duration=first[a]"
    cmd = [
        "ffmpeg", "-y", "-v", "error",
        "-f", "lavfi", "-i", f"color=c=0x1d2b3a:s=1280x720:r=25:d={duration}",
        "-f", "lavfi", "-i", f"anullsrc=r=16000:cl=mono:d={duration}",
        *inputs,
        "-filter_complex", f"{video};{audio}",
        "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "64k", "-t", str(duration), str(path),
    ]  # fmt: skip
    _run(cmd)
    (folder / "bench_lecture.srt").write_text("\n".join(cues))
    for wav in folder.glob("s*.wav"):
        wav.unlink()
    return path, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "video_ingest.json")
    args = ap.parse_args()

    from longlens import LongLens
    from longlens.models.asr import load_whisper
    from longlens.retrieval.parsers import video as video_parser

    work = Path(tempfile.mkdtemp(prefix="longlens-video-bench-"))
    try:
        t = time.perf_counter()
        path, n_slides = make_video(work, args.minutes)
        gen_s = time.perf_counter() - t
        t = time.perf_counter()
        load_whisper()  # model load is a one-off per process, reported apart from the RTF
        whisper_load_s = time.perf_counter() - t
        lens = LongLens(work / "data", workers=1)
        t = time.perf_counter()
        lens.embedder.dim  # noqa: B018 - load the embedder before timing, as a running service has it loaded
        embedder_load_s = time.perf_counter() - t
        t = time.perf_counter()
        report = lens.ingest([path])
        wall = time.perf_counter() - t
        if report.failed:
            raise SystemExit(f"ingest failed: {report.failed}")
        stages = getattr(video_parser.LAST_TIMES, "value", None)
        doc = report.documents[0]
        duration = float(doc["duration"])
        checks = _check_search(lens, n_slides)
        lens.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = [
        ("ASR (Whisper base, thread)", stages.asr if stages else None),
        ("frame sampling (decode + cuts)", stages.frames if stages else None),
        ("OCR (Tesseract, keyframes)", stages.ocr if stages else None),
        ("detection (Haar)", stages.detection if stages else None),
        ("parse, wall (all of the above)", report.timings["parse"]),
        ("chunking", report.timings["chunk"]),
        ("embedding", report.timings["embed"]),
        ("end to end (ingest call)", wall),
    ]
    table = [{"stage": name, "seconds": s, "rtf": (s / duration if s is not None else None)} for name, s in rows]
    result = {
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs",
        "video_seconds": duration,
        "slides": n_slides,
        "keyframes": stages.keyframes if stages else None,
        "chunks": doc["chunks"],
        "warnings": doc["warnings"],
        "generation_seconds": gen_s,
        "whisper_load_seconds": whisper_load_s,
        "embedder_load_seconds": embedder_load_s,
        "search_checks": checks,
        "stages": table,
    }
    print(f"video: {duration:.0f} s, {n_slides} slides, {result['keyframes']} keyframes, {doc['chunks']} chunks")
    print(f"{'stage':<34}{'seconds':>10}{'RTF':>8}")
    for row in table:
        s = "-" if row["seconds"] is None else f"{row['seconds']:.1f}"
        r = "-" if row["rtf"] is None else f"{row['rtf']:.3f}"
        print(f"{row['stage']:<34}{s:>10}{r:>8}")
    print(f"(one-off loads: Whisper {whisper_load_s:.1f} s, embedder {embedder_load_s:.1f} s; search checks: {checks})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


def _check_search(lens: object, n_slides: int) -> dict[str, object]:
    """How many slides' spoken, shown and subtitled text a search finds within ±2 s of where it is."""
    found: dict[str, object] = {"speech": 0, "on_screen": 0, "subtitles": 0, "missed": []}
    for i in range(n_slides):
        title, said, cue = _slide(i)
        a = i * SLIDE_SECONDS
        for key, query, t in (("speech", said, a + 2), ("on_screen", title, a + 0.5), ("subtitles", cue, a + 8)):
            hits = lens.search(query, k=1)  # type: ignore[attr-defined]
            if hits and hits[0].t_start is not None and hits[0].t_start - 2 <= t <= hits[0].t_end + 2:
                found[key] += 1  # type: ignore[operator]
            else:
                got = f"{hits[0].t_start}-{hits[0].t_end}" if hits else "nothing"
                found["missed"].append(f"{key} of slide {i + 1} at {t:.0f} s: top hit {got}")  # type: ignore[union-attr]
    return found


if __name__ == "__main__":
    main()
