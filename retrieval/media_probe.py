"""What a media file holds (duration, streams, subtitle tracks), read with PyAV before any heavy work.

Probing first turns every kind of bad input into one clear message per file (empty, not a video,
truncated, unsupported codec, too long) instead of a decoder traceback halfway through ASR. Missing
audio or video is not an error: the other half is still worth indexing, so it becomes a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import av

from longlens.schema import ParseError


@dataclass(frozen=True)
class SubtitleTrack:
    """An embedded subtitle stream: its index in the container, codec and language tag."""

    index: int
    codec: str
    language: str = ""


@dataclass
class MediaInfo:
    """The probe result; `warnings` carries the problems that leave something to index."""

    duration: float
    has_video: bool
    has_audio: bool
    title: str = ""
    width: int = 0
    height: int = 0
    fps: float = 0.0
    video_codec: str = ""
    audio_codec: str = ""
    subtitles: list[SubtitleTrack] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _decodable(codec_name: str) -> bool:
    try:
        av.codec.Codec(codec_name, "r")
    except Exception:  # PyAV raises UnknownCodecError (a ValueError) or FFmpeg errors
        return False
    return True


def _is_cover(stream: av.stream.Stream) -> bool:
    """Cover art in an audio file shows up as a one-frame video stream; it is not a video track."""
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except av.error.InvalidDataError as exc:
        raise ParseError("not a readable video or audio file (truncated, corrupt or not media at all)") from exc
    except av.error.FFmpegError as exc:
        raise ParseError(f"cannot open the file as media: {exc}") from exc


def _duration(container: av.container.InputContainer) -> float:
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    spans = [float(s.duration * s.time_base) for s in container.streams if s.duration and s.time_base]
    return max(spans, default=0.0)


def probe_media(path: Path, max_seconds: float | None = None) -> MediaInfo:
    """Streams and duration of `path`; ParseError for input that cannot give any text."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ParseError(f"cannot read file: {exc.strerror or exc}") from exc
    if size == 0:
        raise ParseError("empty file")
    with _open(path) as container:
        video = next((s for s in container.streams.video if s.codec_context is not None and not _is_cover(s)), None)
        audio = next(iter(container.streams.audio), None)
        subs = [
            SubtitleTrack(s.index, s.codec_context.name if s.codec_context else "", s.metadata.get("language", ""))
            for s in container.streams.subtitles
        ]
        if video is None and audio is None:
            raise ParseError("no video or audio stream in the file" + (" (subtitles only)" if subs else ""))
        for stream, kind in ((video, "video"), (audio, "audio")):
            if stream is not None and not _decodable(stream.codec_context.name):
                raise ParseError(f"unsupported {kind} codec '{stream.codec_context.name}'")
        duration = _duration(container)
        info = MediaInfo(
            duration=duration,
            has_video=video is not None,
            has_audio=audio is not None,
            title=str(container.metadata.get("title", "")).strip(),
            subtitles=subs,
        )
        if video is not None:
            info.width, info.height = video.codec_context.width, video.codec_context.height
            info.fps = float(video.average_rate or video.guessed_rate or 0)
            info.video_codec = video.codec_context.name
        if audio is not None:
            info.audio_codec = audio.codec_context.name
    if duration <= 0:
        raise ParseError("zero-length media (no duration; truncated or empty streams)")
    if max_seconds is not None and duration > max_seconds:
        raise ParseError(
            f"video is {duration:.0f} s long, over the configured limit of {max_seconds:.0f} s (video_max_seconds)"
        )
    if video is None:
        info.warnings.append("no video track: only speech and subtitles were indexed")
    if audio is None:
        info.warnings.append("no audio track: only on-screen text, objects and subtitles were indexed")
    return info
