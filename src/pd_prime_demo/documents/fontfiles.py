"""The font files documents embed, made once per machine and kept in a cache directory: static
instances of the variable fonts, the core cut of Noto Sans, and the fallbacks' embedding
copies (``documents.fonts`` explains why each). Names carry the source's hash, the fontTools
version and :data:`RECIPE`, so a new package or a new recipe gives a new file and the same ones
give the same bytes. Files are written to a temporary name and renamed into place: workers
racing to make the same file each write a complete one and one wins."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import fontTools  # type: ignore[import-untyped]
import platformdirs
from fontTools import subset
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fontTools.varLib import instancer  # type: ignore[import-untyped]

# Part of every cached file's name: bump it when the processing below changes, or machines
# keep fonts made the old way (and render bytes different from a fresh machine's).
RECIPE = "r2"
_LAYOUT = ("GSUB", "GPOS", "GDEF")


def cache_dir() -> Path:
    """Per machine (user cache directory), or a private temporary one where that is not
    writable (a read-only home in a container)."""
    for path in (
        platformdirs.user_cache_path("pd-prime") / "fonts",
        Path(tempfile.gettempdir()) / f"pd-prime-fonts-{os.getuid()}",
    ):
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK):
            return path
    raise RuntimeError("no writable directory for the instanced fonts")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def instance(source: Path, weight: int, *, strip_layout: bool, into: Path) -> Path:
    """``source`` (a variable font) at ``weight`` and normal width, as a static TTF in
    ``into`` (made once: later calls find the file)."""
    tag = "static" if strip_layout else "full"
    name = f"{source.stem}-{digest(source)}-ft{fontTools.version}-{RECIPE}-w{weight}-{tag}.ttf"
    target = into / name.replace("[", "").replace("]", "").replace(",", "-")
    if target.exists():
        return target
    # recalcTimestamp=False: the file's head.modified stays the source's, so every machine
    # instances the same bytes (a timestamp would make each cache's PDFs differ).
    font = TTFont(source, recalcTimestamp=False)
    static = instancer.instantiateVariableFont(
        font, {"wght": weight, "wdth": 100}, updateFontNames=True
    )
    if strip_layout:
        strip(static)
    save(static, target)
    return target


def core_of(path: Path) -> Path:
    """``path`` (a cached static face) cut to the core characters, cached beside it."""
    target = path.with_name(f"{path.stem}-core.ttf")
    if not target.exists():
        font = TTFont(path, recalcTimestamp=False)
        strip(font, only=[c for c in font.getBestCmap() if any(c in r for r in _CORE)])
        save(font, target)
    return target


# Basic Latin to Latin Extended-B, general punctuation, currency signs, letterlike symbols.
_CORE = (range(0x20, 0x250), range(0x2000, 0x2070), range(0x20A0, 0x20D0), range(0x2100, 0x2150))


def save(font: TTFont, target: Path) -> None:
    """Written to a temporary file and renamed: a racing worker sees no file or all of it."""
    into = target.parent
    handle, temporary = tempfile.mkstemp(dir=into, prefix=".tmp-", suffix=".ttf")
    try:
        with os.fdopen(handle, "wb") as out:
            font.save(out)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def strip(font: TTFont, only: Iterable[int] | None = None) -> None:
    """Only the glyphs of the characters it maps, without OpenType layout or hinting: the
    glyphs only reachable through layout features (small capitals, alternates) could never be
    drawn, and a smaller font is cheaper to subset on every page."""
    options = subset.Options()
    options.layout_features = []
    options.notdef_outline = True
    options.recommended_glyphs = True
    options.hinting = False
    options.glyph_names = True  # post format 2: naming glyphs from the cmap costs more
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.drop_tables += [*_LAYOUT, "STAT", "gasp"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=(font.getBestCmap() or {}).keys() if only is None else only)
    subsetter.subset(font)


def without_layout(path: Path, *, into: Path, cff_cid: bool = False) -> Path:
    """A copy of ``path`` for embedding, without its OpenType layout tables (made once, in
    ``into``): the other tables are copied as they are (not decompiled), so the glyphs keep
    their ids and names and a document's subset of the copy is byte for byte the original's
    (fpdf2 drops the layout tables from every subset; HarfBuzz shapes with the full file)."""
    target = into / f"{path.stem}-{digest(path)}-ft{fontTools.version}-{RECIPE}-embed{path.suffix}"
    target = target.with_name(target.name.replace("[", "").replace("]", "").replace(",", "-"))
    if target.exists():
        return target
    font = TTFont(path, recalcTimestamp=False, lazy=True)
    drop = [*_LAYOUT, "BASE", "JSTF", "MATH"]
    if cff_cid:
        # fpdf2 embeds only the CFF table of such a font: the metrics (it writes the widths
        # from its own parse) and the character map are not needed to subset it, and
        # reading them for 65,000 glyphs was most of a CJK page.
        drop += ["hmtx", "vmtx", "vhea", "VORG", "DSIG"]
        font["cmap"] = _empty_cmap()
    for tag in drop:
        if tag in font:
            del font[tag]
    save(font, target)
    return target


def _empty_cmap() -> Any:
    from fontTools.ttLib.tables._c_m_a_p import (  # type: ignore[import-untyped]
        CmapSubtable,
        table__c_m_a_p,
    )

    cmap = table__c_m_a_p()
    cmap.tableVersion = 0
    subtable = CmapSubtable.newSubtable(4)
    subtable.platformID, subtable.platEncID, subtable.language = 3, 1, 0
    subtable.cmap = {}
    cmap.tables = [subtable]
    return cmap
