"""``pd-prime bench documents``: how fast documents are drawn (printed, never asserted).

In process, no database: for each shipped template that has sample facts
(``documents/samples/<product>__<kind>.json``, captured from the producers' own code), and for
the engine's sample declarations (every block), the template's evaluation and the PDF are timed
over ``pages`` renders: documents per second (wall), CPU milliseconds per document (the median
of the CPU times, so a busy machine's stolen time counts less), bytes per document, and how
many pages each document has. Then:

- the first page of the process (fonts loaded from the cache, each face parsed once), and
  whether instancing the variable fonts had to happen first;
- a page whose insured has an Arabic and a CJK name (two fallback fonts embedded, shaping);
  and the same page embedding its fallbacks from the full font files (the cost before
  ``FontSet.embedding``: the embedding copies give the same bytes);
- a baseline measured in the same run: the same strings drawn by bare fpdf2 in a core font
  (no embedded font at all), the floor any engine on fpdf2 starts from.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF

from pd_prime_demo.core.config import get_settings
from pd_prime_demo.documents import blocks, fonts, pdf
from pd_prime_demo.documents.context import Carrier, Insured, context
from pd_prime_demo.documents.sample import SAMPLE_TEMPLATE, sample_facts
from pd_prime_demo.documents.templates import Template, compile_source, load_template

SAMPLES = Path(pdf.__file__).parent / "samples"
ISSUED = datetime(2027, 3, 1, 15, 30, tzinfo=UTC)
LATIN = Insured(name="Jane Roe", address_lines=("1 Main St", "Apt 2", "Austin, TX 78701"))
WORLD = Insured(
    name="محمد عبد الله 山田太郎 Nguyễn Thị Hương",
    address_lines=("1 Main St", "Austin, TX 78701"),
)


@dataclass(frozen=True, slots=True)
class Case:
    label: str
    template: Template
    facts: dict[str, Any]
    insured: Insured


@dataclass(frozen=True, slots=True)
class Figures:
    pages_per_second: float
    cpu_ms: float
    layout_ms: float
    bytes_per_page: int
    pages_per_document: int


def cases() -> list[Case]:
    """Every shipped template with sample facts, then the engine's sample."""
    found: list[Case] = []
    for path in sorted(SAMPLES.glob("*__*.json")):
        product, kind = path.stem.split("__", 1)
        try:
            template = load_template(kind, product)
        except Exception as exc:  # a kind whose template is not there yet: say so, go on
            print(f"  (skipped {kind} for {product}: {exc})")
            continue
        found.append(Case(f"{kind} ({product})", template, json.loads(path.read_text()), LATIN))
    sample = compile_source("sample.yaml", SAMPLE_TEMPLATE.encode())
    found.append(Case("sample declarations (every block)", sample, sample_facts(), LATIN))
    return found


def _draw(case: Case, carrier: Carrier, font_set: fonts.FontSet) -> tuple[bytes, float]:
    start = time.process_time()
    layout = case.template.layout(context(case.facts, case.insured, carrier, ISSUED))
    laid = time.process_time() - start
    return pdf.render(layout, issued_at=ISSUED, font_set=font_set), laid


def measure(case: Case, pages: int, carrier: Carrier, font_set: fonts.FontSet) -> Figures:
    _draw(case, carrier, font_set)  # warm: this case's fonts parsed once
    cpu: list[float] = []
    layout: list[float] = []
    size = 0
    content = b""
    wall = time.perf_counter()
    for _ in range(pages):
        start = time.process_time()
        content, laid = _draw(case, carrier, font_set)
        cpu.append(time.process_time() - start)
        layout.append(laid)
        size += len(content)
    elapsed = time.perf_counter() - wall
    return Figures(
        pages_per_second=pages / elapsed,
        cpu_ms=statistics.median(cpu) * 1000,
        layout_ms=statistics.median(layout) * 1000,
        bytes_per_page=size // pages,
        pages_per_document=content.count(b"/Type /Page\n") or content.count(b"/Type /Page"),
    )


def baseline(case: Case, pages: int, carrier: Carrier) -> float:
    """CPU ms per page for the same strings in a core font with bare fpdf2 (no embedding)."""
    layout = case.template.layout(context(case.facts, case.insured, carrier, ISSUED))
    texts = [t.encode("latin-1", "replace").decode("latin-1") for t in blocks.strings(layout)]
    cpu: list[float] = []
    for _ in range(pages):
        start = time.process_time()
        page = FPDF(format="Letter")
        page.set_creation_date(ISSUED)
        page.add_page()
        page.set_font("Helvetica", "", 10)
        for i, text in enumerate(texts):
            page.text(20, 20 + (i % 40) * 6, text)
            if i % 40 == 39:
                page.add_page()
        page.output()
        cpu.append(time.process_time() - start)
    return statistics.median(cpu) * 1000


def run(*, pages: int = 100, echo: Callable[[str], None] = print) -> None:
    settings = get_settings()
    carrier = Carrier.from_settings(settings)
    cached = any(fonts.cache_dir().glob(f"NotoSans*-{fonts.RECIPE}-w400-static.ttf"))
    start = time.perf_counter()
    font_set = fonts.fonts(settings.document_fonts)
    ready = time.perf_counter() - start
    found = cases()
    sample = found[-1]
    start = time.perf_counter()
    first, _ = _draw(sample, carrier, font_set)
    first_page = time.perf_counter() - start
    echo(f"Documents: {pages} of each, in process, fonts in {fonts.cache_dir()}")
    how = "read from the cache" if cached else "instanced (no cache yet)"
    echo(f"  fonts ready: {ready * 1000:,.0f} ms ({how})")
    echo(f"  first page of the process: {first_page * 1000:,.1f} ms ({len(first):,} bytes)")
    echo("")
    header = f"  {'document':<44} {'docs/s':>8} {'CPU ms':>7} {'of it Jinja':>11} {'bytes':>7}"
    echo(header + "  pages")
    rows = [*found, Case("sample, Arabic + CJK + Vietnamese name", sample.template,
                         sample.facts, WORLD)]  # fmt: skip
    for case in rows:
        f = measure(case, pages, carrier, font_set)
        echo(
            f"  {case.label:<44} {f.pages_per_second:>8.1f} {f.cpu_ms:>7.1f} "
            f"{f.layout_ms:>11.2f} {f.bytes_per_page:>7,}  {f.pages_per_document}"
        )
    world = rows[-1]
    full = dataclasses.replace(font_set, embedding=())  # before: subsetting the full files
    f = measure(world, pages, carrier, full)
    label = "  the same, fallbacks embedded from full files"
    echo(
        f"{label:<46} {f.pages_per_second:>8.1f} {f.cpu_ms:>7.1f} "
        f"{f.layout_ms:>11.2f} {f.bytes_per_page:>7,}  {f.pages_per_document}"
    )
    floor = baseline(sample, pages, carrier)
    sample_figures = measure(sample, pages, carrier, font_set)
    echo("")
    echo(
        f"  baseline, the sample's strings in bare fpdf2 with a core font: {floor:.1f} CPU ms "
        f"a page; the engine costs {sample_figures.cpu_ms / floor:.1f}x that "
        "(two embedded, subset fonts and the layout)"
    )


def command(pages: int = 100) -> None:
    """Pages per second, CPU ms and bytes per page for each document kind (cold, shaped)."""
    run(pages=pages)
