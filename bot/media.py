"""What kind of file an attachment is, from its name and MIME type: one rule for every
adapter and backend."""

from __future__ import annotations

from pathlib import PurePosixPath

from bot.ports.chat import AttachmentKind

#: Photo formats people send (HEIC is what iPhones shoot).
IMAGE_SUFFIXES = frozenset(
    {"jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff", "heic", "heif"}
)
AUDIO_SUFFIXES = frozenset({"mp3", "wav", "m4a", "aac", "ogg", "oga", "opus", "flac"})
VIDEO_SUFFIXES = frozenset({"mp4", "mov", "avi", "webm", "mkv", "m4v"})


def suffix_of(name: str) -> str:
    """The lower-case extension without its dot (``"Shop.JPG"`` → ``"jpg"``)."""
    return PurePosixPath(name).suffix.lower().lstrip(".")


def kind_of(name: str, mime_type: str | None = None) -> AttachmentKind:
    """image, audio, video or file: from the MIME type first, the extension second."""
    main = (mime_type or "").split(";", 1)[0].strip().lower().partition("/")[0]
    if main == "image":
        return "image"
    if main == "audio":
        return "audio"
    if main == "video":
        return "video"
    suffix = suffix_of(name)
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return "file"
