"""Thumbnail images: which types are accepted, and whether the bytes are what they claim.

Only raster formats a browser shows in an <img> and that carry no script (no SVG). The type is
checked against the file's own signature, so a page is never handed something else under an
image's name.
"""

from __future__ import annotations

import hashlib

from cuepoint.runtime.errors import Invalid, TooLarge, UnsupportedType

# content type → (file extension, a check of the file's signature)
IMAGE_TYPES = {
    "image/png": ("png", "PNG", lambda data: data.startswith(b"\x89PNG\r\n\x1a\n")),
    "image/jpeg": ("jpg", "JPEG", lambda data: data.startswith(b"\xff\xd8\xff")),
    "image/webp": ("webp", "WebP", lambda data: data[:4] == b"RIFF" and data[8:12] == b"WEBP"),
}
EXTENSION_TYPES = {extension: content_type for content_type, (extension, _, _) in IMAGE_TYPES.items()}


def image_file_name(data: bytes, content_type: str, *, max_bytes: int) -> str:
    """The name an accepted image is stored under: its SHA-256 and the extension of its type."""
    declared = content_type.split(";")[0].strip().lower()
    if declared not in IMAGE_TYPES:
        raise UnsupportedType(f"a thumbnail must be a PNG, JPEG or WebP image, not {declared or 'untyped data'}")
    if len(data) > max_bytes:
        raise TooLarge(f"a thumbnail may be at most {max_bytes // 1024} KB; this one is {len(data) // 1024} KB")
    extension, name, matches = IMAGE_TYPES[declared]
    if not matches(data):
        raise Invalid(f"the file is not a {name} image, though it was sent as {declared}")
    return f"{hashlib.sha256(data).hexdigest()}.{extension}"
