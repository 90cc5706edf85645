"""Any script a name can hold prints as written and reads back from the text layer; the same
inputs give the same bytes; the fonts come from packages, are instanced once and cached."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pypdfium2  # type: ignore[import-untyped]
import pytest
from fpdf import FPDF
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from pd_prime_demo.documents import fonts, pdf

ISSUED = datetime(2027, 3, 1, 15, 30, tzinfo=UTC)


def _page(name: str) -> pdf.Layout:
    return pdf.Layout(
        f"Declarations for {name}",
        (
            pdf.Address((name, "1 Main St", "Austin, TX 78701")),
            pdf.Heading("Policy declarations"),
            pdf.Fields((("Named insured", name), ("Policy", "PA-TX-0000042"))),
            pdf.Table(
                (pdf.Column("Driver", 0.6), pdf.Column("Premium", 0.4, "R")),
                ((name, "$600.00"),),
                (("Total", "$600.00"),),
            ),
        ),
    )


def _lines_pypdf(content: bytes) -> list[str]:
    return PdfReader(io.BytesIO(content)).pages[0].extract_text().splitlines()


def _lines_pdfium(content: bytes) -> list[str]:
    page = pypdfium2.PdfDocument(content)[0]
    text: str = page.get_textpage().get_text_range()
    return text.splitlines()


def _base_fonts(content: bytes) -> set[str]:
    page = PdfReader(io.BytesIO(content)).pages[0]
    resources = cast(DictionaryObject, page["/Resources"].get_object())
    used = cast(DictionaryObject, resources["/Font"].get_object())
    return {str(cast(DictionaryObject, f.get_object())["/BaseFont"]) for f in used.values()}


@pytest.mark.parametrize(
    "name",
    [
        "Łukasz Żółć",  # Polish
        "Zoë Brontë-Ångström",
        "Жуков Иван Сергеевич",  # Cyrillic
        "Γιώργος Παπαδόπουλος",  # Greek
        "Nguyễn Thị Hương",  # Vietnamese: stacked marks, horns
        "Đặng Quốc Việt",
    ],
)
def test_a_name_in_a_european_or_vietnamese_script_round_trips_through_the_text_layer(
    name: str,
) -> None:
    content = pdf.render(_page(name), issued_at=ISSUED)
    lines = _lines_pypdf(content)
    assert lines[0] == name  # the address block, exactly: no transliteration, no stray glyph
    assert f"Named insured {name}" in " ".join(lines)
    assert _base_fonts(content) == {"/MPDFAA+NotoSans", "/MPDFAA+NotoSansBold"}


def test_a_decomposed_name_prints_and_reads_back_composed() -> None:
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Hương")
    assert _lines_pypdf(pdf.render(_page(decomposed), issued_at=ISSUED))[0] == "Nguyễn Thị Hương"


def test_an_arabic_name_is_shaped_right_to_left_and_reads_back() -> None:
    """Right-to-left text is drawn in visual order (the last word leftmost), and a PDF text
    layer holds the glyphs in drawing order: pypdf gives each word's letters in logical order
    but the words as they are placed, left to right. So the line read back is the name with
    its words reversed (the bidi visual order of words), every letter present once, and no
    stray character for the glyphs shaping added (a dot below is its own glyph in Noto Sans
    Arabic: see fonts.DocumentPDF)."""
    name = "محمد عبد الله"
    content = pdf.render(_page(name), issued_at=ISSUED)
    assert _lines_pypdf(content)[0] == " ".join(reversed(name.split()))
    assert "/MPDFAA+NotoSansArabic" in _base_fonts(content)


def test_arabic_inside_latin_text_keeps_the_latin_order() -> None:
    name = "Jane محمد Roe"
    assert _lines_pypdf(pdf.render(_page(name), issued_at=ISSUED))[0] == name


def test_a_cjk_name_uses_the_cjk_font_only_when_needed_and_reads_back() -> None:
    """pypdf reads the CJK font's two-byte codes with a NUL before each character; pdfium
    (the engine of Chrome's viewer) reads the text exactly, so it is the reference here."""
    pytest.importorskip("noto_cjk_sans_jp_regular")
    name = "山田 太郎"
    content = pdf.render(_page(name), issued_at=ISSUED)
    assert _lines_pdfium(content)[0] == name
    assert "".join(_lines_pypdf(content)[0].split("\x00")) == name
    assert any("CJK" in font for font in _base_fonts(content))
    latin = pdf.render(_page("Jane Roe"), issued_at=ISSUED)
    assert not any("CJK" in f or "Arabic" in f for f in _base_fonts(latin))


def test_no_core_font_is_used() -> None:
    content = pdf.render(_page("Jane Roe"), issued_at=ISSUED)
    assert not any("Helvetica" in font or "Times" in font for font in _base_fonts(content))


def test_the_same_inputs_give_the_same_bytes() -> None:
    for name in ("Jane Roe", "Nguyễn Thị Hương", "محمد عبد الله"):
        first = pdf.render(_page(name), issued_at=ISSUED)
        assert pdf.render(_page(name), issued_at=ISSUED) == first
    assert pdf.render(_page("Jane Roe"), issued_at=datetime(2027, 3, 2, tzinfo=UTC)) != (
        pdf.render(_page("Jane Roe"), issued_at=ISSUED)
    )


_IN_ANOTHER_PROCESS = """
import hashlib, sys
from datetime import UTC, datetime
sys.path.insert(0, sys.argv[1])
from test_document_fonts import ISSUED, _page
from pd_prime_demo.documents import pdf
print(hashlib.sha256(pdf.render(_page("Nguyễn محمد Roe"), issued_at=ISSUED)).hexdigest())
"""


def test_another_process_renders_the_same_bytes() -> None:
    here = str(Path(__file__).parent)
    done = subprocess.run(  # noqa: S603 - this interpreter, this test's own code
        [sys.executable, "-c", _IN_ANOTHER_PROCESS, here],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    expected = hashlib.sha256(pdf.render(_page("Nguyễn محمد Roe"), issued_at=ISSUED)).hexdigest()
    assert done.stdout.strip() == expected


def test_a_document_registers_its_fonts_as_fpdf2s_add_font_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """fonts.register copies a per-process parse of each face instead of parsing the file
    again: the document must be byte for byte what fpdf2's own add_font gives."""
    layout = _page("Jane محمد Nguyễn Roe")
    fast = pdf.render(layout, issued_at=ISSUED)
    fast_again = pdf.render(layout, issued_at=ISSUED)  # the prototype is left untouched

    def add_font(document: FPDF, family: str, style: str, path: Path) -> None:
        document.add_font(family, style, path)

    monkeypatch.setattr(fonts, "register", add_font)
    assert pdf.render(layout, issued_at=ISSUED) == fast == fast_again


def _instance_arabic(into: str) -> str:
    path = fonts.instance(fonts._noto_arabic(), 400, strip_layout=False, into=Path(into))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_workers_racing_to_instance_a_font_each_get_the_whole_file(tmp_path: Path) -> None:
    with ProcessPoolExecutor(max_workers=3) as pool:
        digests = list(pool.map(_instance_arabic, [str(tmp_path)] * 3))
    assert len(set(digests)) == 1
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 1  # no temporary file left behind
    assert fonts._digest(fonts._noto_arabic()) in files[0]  # keyed by the source's hash
    # Found, not instanced again, the next time (the file is left as it was).
    before = (tmp_path / files[0]).stat().st_mtime_ns
    _instance_arabic(str(tmp_path))
    assert (tmp_path / files[0]).stat().st_mtime_ns == before


def test_the_cached_latin_face_has_no_layout_tables_and_maps_every_glyph_it_keeps() -> None:
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    face = TTFont(fonts.fonts().primary.regular)
    assert not {"GSUB", "GPOS", "GDEF"} & set(face.keys())
    for char in "ŁŻółćЖΓώễịươĐ€":
        assert ord(char) in fonts.fonts().primary.chars, char


def test_a_latin_page_embeds_the_core_cut_of_noto_sans_and_any_other_the_whole_face() -> None:
    font_set = fonts.fonts()
    latin = "Zoë Brontë \u2013 Łukasz \u201cŻółć\u201d €5"
    assert font_set.primary_for({ord(c) for c in latin})[0] == font_set.core
    assert font_set.primary_for({ord(c) for c in "Jane Жуков"})[0] == font_set.primary
    assert len(font_set.core.chars) < len(font_set.primary.chars) / 3
    assert _lines_pypdf(pdf.render(_page("Łukasz Żółć"), issued_at=ISSUED))[0] == "Łukasz Żółć"


def test_fallbacks_are_embedded_from_copies_without_layout_tables_with_the_same_bytes() -> None:
    """HarfBuzz shapes with the full file; the PDF embeds from a copy without the layout
    tables (and, for the CID-keyed CJK face, without the metrics and the character map):
    same glyph ids and names, so the document is byte for byte the one the original makes."""
    import dataclasses

    from fontTools.ttLib import TTFont

    font_set = fonts.fonts()
    embedding = dict(font_set.embedding)
    arabic = font_set.fallbacks[0].regular
    assert arabic in embedding
    for source, copy in embedding.items():
        full, cut = TTFont(source, lazy=True), TTFont(copy, lazy=True)
        assert "GSUB" in full
        assert not {"GSUB", "GPOS", "GDEF"} & set(cut.keys())
        assert cut.getGlyphOrder() == full.getGlyphOrder()
    names = ["محمد عبد الله", "Nguyễn Thị Hương"]
    if len(font_set.fallbacks) > 1 and font_set.fallbacks[1].family == "notocjk":
        names.append("山田太郎")
        assert "hmtx" not in TTFont(embedding[font_set.fallbacks[1].regular], lazy=True)
    layout = _page(" ".join(names))
    unstripped = dataclasses.replace(font_set, embedding=())
    drawn = pdf.render(layout, issued_at=ISSUED, font_set=font_set)
    assert drawn == pdf.render(layout, issued_at=ISSUED, font_set=unstripped)
    text = "".join(_lines_pdfium(drawn))
    for name in names[1:]:
        assert name in text
