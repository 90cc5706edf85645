"""Document templates: YAML files of blocks whose strings are Jinja2, turned into a layout.

The format is in ``docs/documents.md``. A template is found in the operator's
``document_templates_dir`` first (``<dir>/<product_code>/<kind>.yaml``, then
``<dir>/<kind>.yaml``), then among the shipped ones (``templates/<product_code>/<kind>.yaml``,
``templates/<kind>.yaml``), so a carrier changes the wording without code.

Every string is evaluated in a sandboxed Jinja2 environment with ``StrictUndefined``: a
misspelt name fails (in a test, not on a customer's page), and a template cannot reach Python
internals. The output is drawn as plain text, so data never becomes markup; data is also
rendered once, never evaluated again, so a name holding ``{{ 7*7 }}`` prints as written.
A file is parsed, validated (pydantic) and compiled once per content (its SHA-256).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2 import StrictUndefined
from jinja2.exceptions import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pd_prime_demo.documents import pdf

SHIPPED = Path(__file__).parent / "templates"
_CODE = re.compile(r"[a-z0-9_]{1,60}")  # a path segment: no "..", no "/"


class TemplateError(Exception):
    """A template that does not load, validate or render: names the file and the block."""


# --- filters -------------------------------------------------------------------------------


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool | float):
        raise TypeError(f"money is a Decimal or its string, not {type(value).__name__}")
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not an amount: {value!r}") from None
    raise TypeError(f"money is a Decimal or its string, not {type(value).__name__}")


def money(value: object) -> str:
    """``"1234.5"`` -> ``"$1,234.50"``; a negative amount ``"-$12.00"`` (rounded half up)."""
    amount = _decimal(value).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    return f"{'-' if amount < 0 else ''}${abs(amount):,.2f}"


def long_date(value: object) -> str:
    """A date (or datetime, or their ISO strings) as ``"March 1, 2027"``."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        raise TypeError(f"not a date: {type(value).__name__}")
    return f"{value:%B} {value.day}, {value.year}"


def words(value: object) -> str:
    """A code as words: ``"short_rate"`` -> ``"short rate"``."""
    return "" if value is None else str(value).replace("_", " ")


def _finalize(value: object) -> object:
    return "" if value is None else value  # a missing optional fact prints nothing, not "None"


ENV = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, finalize=_finalize, keep_trailing_newline=False
)
ENV.filters.update(money=money, date=long_date, words=words)

Context = Mapping[str, Any]

# --- the file format (validated) -----------------------------------------------------------


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Empty(_Spec):
    pass


class _Block(_Spec):
    when: str | None = None
    for_: str | None = Field(default=None, alias="for")
    as_: str = Field(default="item", alias="as", pattern=r"^[a-z_][a-z0-9_]*$")


class LetterheadBlock(_Block):
    letterhead: _Empty | None = None


class AddressBlock(_Block):
    address: str


class HeadingBlock(_Block):
    heading: str
    size: int = Field(default=16, ge=8, le=24)


class FieldsBlock(_Block):
    fields: list[tuple[str, str]]


class ParagraphBlock(_Block):
    paragraph: str


class ColumnSpec(_Spec):
    title: str
    share: float = Field(gt=0, le=1)
    align: Literal["L", "R", "C"] = "L"


class TableSpec(_Spec):
    columns: list[ColumnSpec] = Field(min_length=1)
    rows: str  # a Jinja expression giving a list; each item is ``row``
    cells: list[str]
    footer: list[list[str]] = []


class TableBlock(_Block):
    table: TableSpec


class CouponSpec(_Spec):
    heading: str
    fields: list[tuple[str, str]]
    address: str = ""


class CouponBlock(_Block):
    coupon: CouponSpec


class SpacerBlock(_Block):
    spacer: float = Field(ge=0, le=200)


class RuleBlock(_Block):
    rule: _Empty | None = None


BLOCKS: dict[str, type[_Block]] = {
    "letterhead": LetterheadBlock,
    "address": AddressBlock,
    "heading": HeadingBlock,
    "fields": FieldsBlock,
    "paragraph": ParagraphBlock,
    "table": TableBlock,
    "coupon": CouponBlock,
    "spacer": SpacerBlock,
    "rule": RuleBlock,
}


class TemplateFile(_Spec):
    kind: str = Field(pattern=r"^[a-z_]{1,40}$")
    version: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._-]+$")
    title: str
    blocks: list[dict[str, Any]] = Field(min_length=1)


# --- compiled templates ----------------------------------------------------------------------

Make = Callable[[Context], list[pdf.Block]]


@dataclass(frozen=True, slots=True)
class CompiledBlock:
    index: int
    name: str
    when: Callable[..., Any] | None
    loop: Callable[..., Any] | None
    as_: str
    make: Make


@dataclass(frozen=True, slots=True)
class Template:
    path: str
    kind: str
    version: str  # "<kind>/<version>@<first 16 hex of the file's SHA-256>"
    title: Callable[[Context], str]
    blocks: tuple[CompiledBlock, ...]

    def layout(self, context: Context) -> pdf.Layout:
        """The layout for ``context`` (``doc``, ``insured``, ``carrier``, ``issued_at``)."""
        try:
            title = self.title(context)
        except Exception as exc:
            raise TemplateError(f"{self.path}: title: {_why(exc)}") from exc
        out: list[pdf.Block] = []
        for block in self.blocks:
            try:
                out.extend(_expand(block, context))
            except TemplateError:
                raise
            except Exception as exc:
                where = f"{self.path}: block {block.index} ({block.name})"
                raise TemplateError(f"{where}: {_why(exc)}") from exc
        issuer = context.get("carrier", {}).get("name", "")
        return pdf.Layout(title, tuple(out), issuer=str(issuer))


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _expand(block: CompiledBlock, context: Context) -> list[pdf.Block]:
    """``for`` first, then ``when`` for each item (as Jinja's ``for x in y if c``)."""
    if block.loop is None:
        scopes: list[Context] = [context]
    else:
        scopes = [{**context, block.as_: item} for item in _sequence(block.loop(**context))]
    out: list[pdf.Block] = []
    for scope in scopes:
        if block.when is None or block.when(**scope):
            out.extend(block.make(scope))
    return out


def _sequence(value: object) -> list[Any]:
    if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return list(value)


def _string(source: str) -> Callable[[Context], str]:
    if "{" not in source:
        return lambda _context: source  # most labels: no Jinja at all
    template = ENV.from_string(source)
    return lambda context: template.render(context)


def _expression(source: str) -> Callable[..., Any]:
    return ENV.compile_expression(source, undefined_to_none=False)


def _pairs(specs: list[tuple[str, str]]) -> Callable[[Context], tuple[tuple[str, str], ...]]:
    compiled = [(_string(label), _string(value)) for label, value in specs]

    def pairs(context: Context) -> tuple[tuple[str, str], ...]:
        rendered = ((label(context), value(context)) for label, value in compiled)
        return tuple((label, value) for label, value in rendered if value.strip())

    return pairs


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line for line in (x.strip() for x in text.split("\n")) if line)


def _maker(spec: _Block) -> Make:
    match spec:
        case LetterheadBlock():
            return lambda c: [pdf.Letterhead(c["carrier"]["name"], _letterhead(c["carrier"]))]
        case AddressBlock(address=source):
            text = _string(source)
            return lambda c: [pdf.Address(lines)] if (lines := _lines(text(c))) else []
        case HeadingBlock(heading=source, size=size):
            text = _string(source)
            return lambda c: [pdf.Heading(t, size)] if (t := text(c).strip()) else []
        case ParagraphBlock(paragraph=source):
            text = _string(source)
            return lambda c: [pdf.Paragraph(t)] if (t := text(c).strip("\n ")) else []
        case FieldsBlock(fields=specs):
            pairs = _pairs(specs)
            return lambda c: [pdf.Fields(items)] if (items := pairs(c)) else []
        case TableBlock(table=table):
            return _table(table)
        case CouponBlock(coupon=coupon):
            heading, fields, address = (
                _string(coupon.heading),
                _pairs(coupon.fields),
                _string(coupon.address),
            )
            return lambda c: [pdf.Coupon(heading(c), fields(c), _lines(address(c)))]
        case SpacerBlock(spacer=height):
            return lambda _c: [pdf.Spacer(height)]
        case RuleBlock():
            return lambda _c: [pdf.Rule()]
    raise AssertionError(spec)  # pragma: no cover - BLOCKS lists every kind


def _table(table: TableSpec) -> Make:
    if len(table.cells) != len(table.columns):
        raise ValueError(f"{len(table.columns)} columns but {len(table.cells)} cells")
    if any(len(row) > len(table.columns) for row in table.footer):
        raise ValueError("a footer row has more cells than there are columns")
    if sum(c.share for c in table.columns) > 1.0001:
        raise ValueError("the column shares add up to more than 1")
    columns = tuple(pdf.Column(c.title, c.share, c.align) for c in table.columns)
    rows = _expression(table.rows)
    cells = [_string(cell) for cell in table.cells]
    footer = [[_string(cell) for cell in row] for row in table.footer]

    def make(context: Context) -> list[pdf.Block]:
        drawn = tuple(
            tuple(cell({**context, "row": row}) for cell in cells)
            for row in _sequence(rows(**context))
        )
        totals = tuple(tuple(cell(context) for cell in row) for row in footer)
        return [pdf.Table(columns, drawn, totals)]

    return make


def _letterhead(carrier: Mapping[str, Any]) -> tuple[str, ...]:
    reach = (carrier.get(key) for key in ("phone", "email", "website"))
    contact = " · ".join(str(x) for x in reach if x)
    address = carrier.get("address", ())
    return (f"NAIC {carrier['naic']}", *address, *([contact] if contact else []))


@lru_cache(maxsize=256)
def compile_source(path: str, content: bytes) -> Template:
    """Parse, validate and compile one template file's content (cached on the content)."""
    try:
        raw = yaml.safe_load(content)
        spec = TemplateFile.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise TemplateError(f"{path}: {exc}") from exc
    blocks: list[CompiledBlock] = []
    for index, raw_block in enumerate(spec.blocks):
        names = [key for key in raw_block if key in BLOCKS]
        where = f"{path}: block {index}"
        if len(names) != 1:
            unknown = sorted(set(raw_block) - {"when", "for", "as"})
            raise TemplateError(f"{where}: expected one of {sorted(BLOCKS)}, got {unknown}")
        name = names[0]
        try:
            block = BLOCKS[name].model_validate(raw_block)
            blocks.append(
                CompiledBlock(
                    index=index,
                    name=name,
                    when=_expression(block.when) if block.when is not None else None,
                    loop=_expression(block.for_) if block.for_ is not None else None,
                    as_=block.as_,
                    make=_maker(block),
                )
            )
        except (ValidationError, TemplateSyntaxError, ValueError) as exc:
            raise TemplateError(f"{where} ({name}): {exc}") from exc
    try:
        title = _string(spec.title)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{path}: title: {exc}") from exc
    digest = hashlib.sha256(content).hexdigest()[:16]
    version = f"{spec.kind}/{spec.version}@{digest}"
    return Template(path, spec.kind, version, title, tuple(blocks))


def candidates(kind: str, product_code: str, templates_dir: Path | None) -> list[Path]:
    """Where a template is looked for, first match wins."""
    if not _CODE.fullmatch(kind) or not _CODE.fullmatch(product_code):
        raise TemplateError(f"not a kind and product code: {kind!r}, {product_code!r}")
    roots = [templates_dir] if templates_dir is not None else []
    roots.append(SHIPPED)
    name = f"{kind}.yaml"
    return [path for root in roots for path in (root / product_code / name, root / name)]


def load_template(kind: str, product_code: str, templates_dir: Path | None = None) -> Template:
    """The template that draws ``kind`` for ``product_code`` (the operator's first)."""
    for path in candidates(kind, product_code, templates_dir):
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            continue
        template = compile_source(str(path), content)
        if template.kind != kind:
            raise TemplateError(f"{path}: declares kind {template.kind!r}, not {kind!r}")
        return template
    raise TemplateError(f"no template for {kind!r} (product {product_code!r})")
