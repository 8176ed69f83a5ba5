"""Thumbnails for image attachments, in the widths the web pages show (Pillow).

Decompression bombs are refused (Pillow raises above MAX_PIXELS), EXIF orientation is applied
so phone photos stand upright, and anything Pillow cannot read simply gets no thumbnail.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

THUMBNAIL_WIDTHS = (320,)
MAX_PIXELS = 60_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    ext: str


def make_thumbnail(source: bytes | Path, width: int) -> Thumbnail | None:
    """From the image's bytes or its stored file (Pillow reads a file lazily)."""
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as opened:
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse it all.
            if opened.width * opened.height > MAX_PIXELS:
                return None
            img = ImageOps.exif_transpose(opened)
            img.thumbnail((width, width * 4))
            out = io.BytesIO()
            if img.mode in ("RGBA", "LA", "P"):
                img.convert("RGBA").save(out, "PNG", optimize=True)
                return Thumbnail(out.getvalue(), "png")
            img.convert("RGB").save(out, "JPEG", quality=82, optimize=True)
            return Thumbnail(out.getvalue(), "jpg")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError):
        return None
