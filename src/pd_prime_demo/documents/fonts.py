"""The fonts documents are drawn in: Noto Sans, with Noto Sans Arabic, Noto Sans CJK (when the
``cjk`` extra is installed) and the operator's ``document_fonts`` as fallbacks. All come from
pip-installable packages or configured files; no system font is ever used.

The packages ship variable fonts. fpdf2 embeds static ones, and instancing a variable font
(fontTools' instancer) takes seconds, so each weight is instanced once per machine and kept in
a cache directory, keyed by the source file's hash and the fontTools version (a new package or
a new instancer gives a new file; the same ones give the same bytes, so the same document gives
the same PDF). Files are written to a temporary name and renamed into place: workers racing to
instance the same font each write a complete file and one wins.

The Latin/Greek/Cyrillic face is cached without its OpenType layout tables (GSUB, GPOS,
GDEF): such text is drawn unshaped with precomposed glyphs (NFC), and a PDF never uses those
tables, so leaving them out makes every page's font subsetting about three times cheaper. With
them, HarfBuzz would also decompose "ị" into "i" + a combining dot, a glyph the text layer
cannot map back to a character (a stray "&" in the extracted text). The fallbacks keep their
tables for HarfBuzz (Arabic needs shaping: joining forms, right to left) but are embedded
from copies without them (``FontSet.embedding``); the files are made by ``documents.fontfiles``.
"""

from __future__ import annotations

import copy
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.fonts import Glyph, SubsetMap, TTFFont

from pd_prime_demo.documents.fontfiles import (
    RECIPE,
    cache_dir,
    core_of,
    instance,
    without_layout,
)
from pd_prime_demo.documents.fontfiles import digest as _digest

__all__ = [
    "RECIPE",
    "DocumentPDF",
    "Face",
    "FontSet",
    "_digest",
    "build",
    "cache_dir",
    "fonts",
    "instance",
]

FAMILY = "noto"


@dataclass(frozen=True, slots=True)
class Face:
    """A font family as documents register it: its files and the characters it has."""

    family: str
    regular: Path
    bold: Path | None  # a fallback without a bold face draws bold text in its regular one
    chars: frozenset[int]


@dataclass(frozen=True, slots=True)
class FontSet:
    primary: Face
    fallbacks: tuple[Face, ...]
    # The primary's characters that draw as they are: no combining mark left after NFC, no
    # right-to-left. A string of only these is placed without shaping (the fast path).
    plain: frozenset[int]
    # The same face cut to Latin and common punctuation (a quarter of the glyphs): a document
    # whose text is all in it embeds it instead, half the cost of a page.
    core: Face
    core_plain: frozenset[int]
    # A fallback's file -> the copy of it a PDF embeds: the same glyphs (same ids and names)
    # without the OpenType layout tables, which HarfBuzz reads from the full file and fpdf2
    # drops from every subset anyway; leaving them out of the file it subsets makes embedding
    # the CJK face about ten times cheaper (its GSUB closure and saving its layout tables).
    embedding: tuple[tuple[Path, Path], ...] = ()

    def primary_for(self, chars: set[int]) -> tuple[Face, frozenset[int]]:
        """The face a document's text is set in, and its plain characters."""
        if all(c in self.core.chars or c < 0x20 for c in chars):
            return self.core, self.core_plain
        return self.primary, self.plain

    def fallbacks_for(self, chars: Iterable[int]) -> tuple[Face, ...]:
        """The fallbacks a text needs (in order): the first that has each character the
        primary lacks. A page without such characters embeds only Noto Sans."""
        missing = {c for c in chars if c not in self.primary.chars and c > 0x20}
        needed: list[Face] = []
        for face in self.fallbacks:
            if not missing:
                break
            if found := missing & face.chars:
                needed.append(face)
                missing -= found
        return tuple(needed)


def _chars(path: Path) -> frozenset[int]:
    font = TTFont(path, lazy=True)
    return frozenset(font.getBestCmap() or {})


def _noto_sans() -> Path:
    import fontpkg_noto_sans  # type: ignore[import-untyped]

    return Path(fontpkg_noto_sans.ROOT) / "files" / "NotoSans[wdth,wght].ttf"


def _noto_arabic() -> Path:
    import fontpkg_noto_sans_arabic  # type: ignore[import-untyped]

    return Path(fontpkg_noto_sans_arabic.ROOT) / "files" / "NotoSansArabic[wdth,wght].ttf"


def _noto_cjk() -> Path | None:
    if find_spec("noto_cjk_sans_jp_regular") is None:
        return None
    import noto_cjk_sans_jp_regular  # type: ignore[import-untyped]

    return Path(noto_cjk_sans_jp_regular.FONT_PATH)


def build(extra: Iterable[Path] = (), *, into: Path | None = None) -> FontSet:
    """Instance (or find in the cache) every face and read what characters each has."""
    where = cache_dir() if into is None else into
    regular = instance(_noto_sans(), 400, strip_layout=True, into=where)
    primary = Face(
        FAMILY,
        regular,
        instance(_noto_sans(), 700, strip_layout=True, into=where),
        _chars(regular),
    )
    arabic = instance(_noto_arabic(), 400, strip_layout=False, into=where)
    fallbacks = [
        Face(
            "notoarabic",
            arabic,
            instance(_noto_arabic(), 700, strip_layout=False, into=where),
            _chars(arabic),
        )
    ]
    if (cjk := _noto_cjk()) is not None:
        fallbacks.append(Face("notocjk", cjk, None, _chars(cjk)))
    for i, path in enumerate(extra):
        fallbacks.append(Face(f"extra{i}", path, None, _chars(path)))
    assert primary.bold is not None
    core = Face(
        FAMILY, core_of(primary.regular), core_of(primary.bold), _chars(core_of(primary.regular))
    )
    embedding = tuple(
        (path, without_layout(path, into=where, cff_cid=_cff_cid(path)))
        for face in fallbacks
        for path in (face.regular, face.bold)
        if path is not None and path.suffix.lower() in {".ttf", ".otf"}
    )
    return FontSet(
        primary, tuple(fallbacks), _plain(primary.chars), core, _plain(core.chars), embedding
    )


def _cff_cid(path: Path) -> bool:
    """Whether fpdf2 embeds only the CFF table of ``path`` (a CID-keyed CFF font: CJK)."""
    proto = _prototype(path, "")
    return bool(proto.is_cff and proto.is_cid_keyed)


def _plain(chars: frozenset[int]) -> frozenset[int]:
    return frozenset(
        c
        for c in chars
        if not unicodedata.combining(chr(c))
        and unicodedata.bidirectional(chr(c)) not in {"R", "AL", "AN"}
    )


class _NoText(int):
    """Formats as nothing: a ToUnicode entry ``<code> <>`` ("this glyph adds no text")."""

    def __format__(self, spec: str) -> str:
        return ""


_NO_TEXT = (_NoText(0),)


class DocumentPDF(FPDF):
    """fpdf2's FPDF with the document's fonts, and text extraction that gives the text back.

    When shaping turns one character into several glyphs (Arabic "ب" is a dotless beh and a
    dot below), fpdf2 maps the first glyph to the character and leaves the others out of the
    ToUnicode map, so extractors print their raw codes ("&", "\\x07"). Mapping those to no
    text makes the extracted text the text that was drawn."""

    def __init__(self, font_set: FontSet) -> None:
        super().__init__(format="Letter")
        self.font_set = font_set
        self.plain = font_set.plain  # what the primary face draws unshaped (pdf._plain)

    def output(self, *args: Any, **kwargs: Any) -> Any:
        embedding = dict(self.font_set.embedding)
        for font in self.fonts.values():
            if isinstance(font, TTFFont):
                # fpdf2 subsets the fontTools font in place: this document's own, opened now
                # (while drawing it read the process's parse: see register).
                source = embedding.get(Path(font.ttffile), font.ttffile)
                font.ttfont = TTFont(source, recalcTimestamp=False, lazy=True)
                subset = font.subset
                subset._char_id_per_glyph = {
                    (
                        Glyph(g.glyph_id, _NO_TEXT, g.glyph_name, g.glyph_width)
                        if g is not None and g.unicode == ()
                        else g
                    ): code
                    for g, code in subset._char_id_per_glyph.items()
                }
        return super().output(*args, **kwargs)


_lock = threading.RLock()
_fonts: dict[tuple[Path, ...], FontSet] = {}


def fonts(extra: Iterable[Path] = ()) -> FontSet:
    """The process's fonts, built on first use (seconds the first time on a machine, a few
    milliseconds after): immutable, shared by every document; each document registers them
    in its own FPDF object."""
    key = tuple(extra)
    with _lock:
        if key not in _fonts:
            _fonts[key] = build(key)
        return _fonts[key]


# --- registering a face in a document, without parsing it again -----------------------------
#
# fpdf2's add_font parses the font file (advance widths, character map, glyph names: ~9 ms a
# face, a quarter of a page; ~200 ms for the CJK font) and keeps the parse in a TTFFont that
# the document then mutates (its subset, its descriptor's object id, and at output the
# fontTools font itself, subset in place). So each face is parsed once per process into a
# prototype that no document draws with, and a document gets a copy that shares only what is
# never written (the character and glyph maps, names, metrics) and has its own mutable parts,
# as fpdf2's own TTFFont.__deepcopy__ does; the fontTools font is the prototype's while the
# document is drawn (shaping reads glyph names and advances from it) and a freshly opened one
# for output. A test holds the bytes equal to those of a plain add_font.

_prototypes: dict[tuple[Path, str], TTFFont] = {}


def _prototype(path: Path, style: str) -> TTFFont:
    with _lock:
        key = (path, style)
        if key not in _prototypes:
            scratch = FPDF()
            scratch.add_font("prototype", style, path)
            font = scratch.fonts[f"prototype{style}"]
            assert isinstance(font, TTFFont)
            _prototypes[key] = font
        return _prototypes[key]


def register(pdf: DocumentPDF, family: str, style: str, path: Path) -> None:
    """``pdf.add_font(family, style, path)``, from the process's parse of the file."""
    proto = _prototype(path, style)
    font = TTFFont.__new__(TTFFont)
    for name in _SHARED:
        setattr(font, name, getattr(proto, name))
    font.i = len(pdf.fonts) + 1
    font.fontkey = f"{family.lower()}{style}"
    font.ttfont = proto.ttfont  # only read while drawing; DocumentPDF.output swaps it
    font.desc = copy.copy(proto.desc)
    font.cw = copy.copy(proto.cw)  # a defaultdict: reading an absent character writes it
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font._hbfont = _shaper(path)
    font.subset = SubsetMap(font)
    pdf.fonts[font.fontkey] = font


_shapers = threading.local()


def _shaper(path: Path) -> Any:
    """The face's HarfBuzz font, one per thread (fpdf2 sets its size before each shaping:
    shared between threads, two documents could shape at each other's size). Reading the
    16 MB CJK font for HarfBuzz took a third of a CJK page."""
    cache: dict[Path, Any] = _shapers.__dict__.setdefault("fonts", {})
    if path not in cache:
        import uharfbuzz as hb  # type: ignore[import-untyped]
        from fpdf.fonts import HarfBuzzFont

        cache[path] = HarfBuzzFont(hb.Face(blob=hb.Blob.from_file_path(path), index=0))
    return cache[path]


_SHARED = (
    "type",
    "ttffile",
    "is_compressed",
    "collection_font_number",
    "is_cff",
    "is_cid_keyed",
    "is_symbol",
    "cff_ros",
    "scale",
    "cmap",
    "glyph_ids",
    "name",
    "up",
    "ut",
    "sp",
    "ss",
    "emphasis",
    "palette_index",
    "color_font",
)
