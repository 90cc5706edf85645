"""A file's media type read from its own bytes (its signature), never from what the client
says or the file name: the type an attachment is stored and served with.

Signatures: JPEG (JFIF/Exif, ``FF D8 FF``), PNG (the 8-byte signature of RFC 2083), WebP (a
RIFF container of form ``WEBP``), HEIC (an ISO BMFF ``ftyp`` box whose major or a compatible
brand is a HEIF brand: ISO/IEC 23008-12), PDF (``%PDF-`` within the first 1024 bytes, as
ISO 32000-1 section 7.5.2 lets readers accept, but we require a trailing ``%%EOF`` marker in
the last 1024 bytes too, so a text file that merely starts with the marker is refused).
"""

from __future__ import annotations

_PNG = b"\x89PNG\r\n\x1a\n"
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_HEIF_CONTAINERS = frozenset({b"mif1", b"msf1"})


def _heic(data: bytes) -> bool:
    if len(data) < 16 or data[4:8] != b"ftyp":
        return False
    size = int.from_bytes(data[0:4], "big")
    if size < 16 or size > len(data) or size % 4:
        return False
    major = data[8:12]
    compatible = {data[i : i + 4] for i in range(16, size, 4)}
    brands = {major} | compatible
    # A HEIF image collection (mif1) holds HEVC pictures only if a HEVC brand says so; AVIF
    # shares the container with brand avif and is not HEIC.
    return bool(brands & _HEIF_BRANDS) or (
        major in _HEIF_CONTAINERS and bool(compatible & _HEIF_BRANDS)
    )


def sniff(data: bytes) -> str | None:
    """The media type the bytes are, among the ones we recognise; None when unknown."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(_PNG):
        return "image/png"
    if len(data) >= 12 and data[0:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if _heic(data):
        return "image/heic"
    if b"%PDF-" in data[:1024] and b"%%EOF" in data[-1024:]:
        return "application/pdf"
    return None


EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "application/pdf": ".pdf",
}
