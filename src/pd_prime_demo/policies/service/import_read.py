"""Reading a book file, JSON or CSV, one policy at a time (a big file is never held whole).

Both formats become the same plain data (``BookPolicy``'s shape), each policy with a locator
that turns a path in that data into where the carrier finds it: the JSON index and a pointer
into the document, or the CSV line and a pointer into the line's columns.

* JSON: a list of policies, read element by element.
* CSV: one line per transaction, the lines of a policy together; the policy's own columns are
  read from its first line (later lines leave them empty or repeat them); ``risk``,
  ``coverages`` and ``customer`` hold JSON; the premium of a coverage is a ``premium.<code>``
  column; an empty cell is a field left out.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

Path = tuple[str | int, ...]
Issue = tuple[Path, str]  # a path in the policy's data, and what is wrong there

POLICY_COLUMNS = (
    "number",
    "customer_id",
    "customer_ref",
    "customer",
    "product_code",
    "state",
    "payment_plan",
    "option",
)
TRANSACTION_COLUMNS = (
    "kind",
    "effective_on",
    "booked_on",
    "term_start",
    "term_end",
    "risk",
    "coverages",
    "term_premium",
    "fees",
    "taxes",
    "premium_change",
    "taxes_change",
    "reason_code",
    "note",
    "rate_version",
    "paid_to_date",
)
JSON_COLUMNS = frozenset({"risk", "coverages", "customer"})
PREMIUM = "premium."


class UnreadableBookError(ValueError):
    """The file as a whole cannot be read (not a JSON list, a CSV without its columns)."""

    def __init__(self, pointer: str, detail: str) -> None:
        super().__init__(detail)
        self.pointer = pointer
        self.detail = detail


def _escape(part: str | int) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def pointer(path: Path) -> str:
    return "#" + "".join(f"/{_escape(p)}" for p in path)


@dataclass(frozen=True, slots=True)
class JsonPlace:
    index: int

    @property
    def row(self) -> int:
        return self.index

    def locate(self, path: Path) -> tuple[int, str]:
        return self.index, pointer((self.index, *path))


@dataclass(frozen=True, slots=True)
class CsvPlace:
    lines: tuple[int, ...]  # the line of each transaction

    @property
    def row(self) -> int:
        return self.lines[0]

    def locate(self, path: Path) -> tuple[int, str]:
        if len(path) >= 3 and path[0] == "transactions" and isinstance(path[1], int):
            line = self.lines[min(path[1], len(self.lines) - 1)]
            column, rest = path[2], path[3:]
            if column == "premium" and rest:
                return line, pointer((f"{PREMIUM}{rest[0]}", *rest[1:]))
            return line, pointer((column, *rest))
        if len(path) == 2 and path[0] == "transactions" and isinstance(path[1], int):
            return self.lines[min(path[1], len(self.lines) - 1)], "#"
        return self.lines[0], pointer(path)


Place = JsonPlace | CsvPlace


@dataclass(slots=True)
class ReadPolicy:
    """A policy as read: its data, where it is, and what could not be read of it."""

    data: dict[str, Any]
    place: Place
    issues: list[Issue] = field(default_factory=list)
    # Whether a NUL character may be in it (a JSON escape, a CSV cell): worth looking for.
    nul: bool = False

    @property
    def number(self) -> str | None:
        number = self.data.get("number")
        return number if isinstance(number, str) and number else None

    @property
    def row(self) -> int:
        return self.place.row


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------

_BLOCK = 1 << 20
_SPACE = re.compile(r"[ \t\r\n]*")


class _JsonStream:
    """A JSON text read a block at a time, decoded value by value."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.buffer = ""
        self.pos = 0
        self.ended = False
        self.decoder = json.JSONDecoder()

    def _fill(self) -> bool:
        if self.ended:
            return False
        block = self.stream.read(_BLOCK)
        if not block:
            self.ended = True
            return False
        self.buffer, self.pos = self.buffer[self.pos :] + block, 0
        return True

    def next_char(self) -> str:
        """The next character that is not whitespace ("" at the end), not consumed."""
        while True:
            found = _SPACE.match(self.buffer, self.pos)
            assert found is not None
            self.pos = found.end()
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._fill():
                return ""

    def decode(self, index: int) -> tuple[Any, bool]:
        """The next value, and whether its text escapes a NUL character."""
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as exc:
                if self._fill():
                    continue
                raise UnreadableBookError(pointer((index,)), f"not valid JSON: {exc.msg}") from None
            if end == len(self.buffer) and self._fill():
                continue  # a number at the end of a block may go on in the next
            nul = "\\u0000" in self.buffer[self.pos : end]
            self.pos = end
            return value, nul


def read_json(stream: TextIO) -> Iterator[ReadPolicy]:
    """The elements of a top-level JSON list, decoded one at a time."""
    text = _JsonStream(stream)
    if text.next_char() != "[":
        raise UnreadableBookError("#", "a JSON book is a list of policies: it must start with [")
    text.pos += 1
    index = 0
    closed = text.next_char() == "]"
    while not closed:
        value, nul = text.decode(index)
        if isinstance(value, dict):
            yield ReadPolicy(value, JsonPlace(index), nul=nul)
        else:
            yield ReadPolicy({}, JsonPlace(index), [((), "a policy must be a JSON object")])
        index += 1
        mark = text.next_char()
        if mark not in (",", "]"):
            raise UnreadableBookError(pointer((index,)), "expected , or ] after a policy")
        closed = mark == "]"
        if not closed:
            text.pos += 1
            text.next_char()
    text.pos += 1
    if text.next_char():
        raise UnreadableBookError("#", "only whitespace may follow the list of policies")


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------


def _columns(header: list[str]) -> list[str]:
    known = set(POLICY_COLUMNS) | set(TRANSACTION_COLUMNS)
    columns = [name.strip() for name in header]
    unknown = [c for c in columns if c not in known and not (c.startswith(PREMIUM) and c[8:])]
    if unknown:
        raise UnreadableBookError(pointer((unknown[0],)), f"unknown columns: {', '.join(unknown)}")
    missing = [c for c in ("number", "kind", "effective_on", "booked_on") if c not in columns]
    if missing:
        raise UnreadableBookError("#", f"missing columns: {', '.join(missing)}")
    if len(set(columns)) != len(columns):
        raise UnreadableBookError("#", "a column is named twice")
    return columns


_UNREADABLE = object()


def _cell(name: str, text: str, path: Path, issues: list[Issue]) -> Any:
    """The cell's value (JSON decoded for the JSON columns), or ``_UNREADABLE``."""
    if name not in JSON_COLUMNS:
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        issues.append((path, f"not valid JSON: {exc.msg}"))
        return _UNREADABLE


class _Group:
    """The lines of one policy, becoming its data."""

    def __init__(self, number: str, line: int) -> None:
        self.data: dict[str, Any] = {"number": number, "transactions": []}
        self.lines: list[int] = []
        self.issues: list[Issue] = []
        self.first = line
        self.nul = False

    def add(self, cells: dict[str, str], line: int) -> None:
        j = len(self.lines)
        self.lines.append(line)
        txn: dict[str, Any] = {}
        premium: dict[str, str] = {}
        for name, text in cells.items():
            if not text:
                continue
            self.nul = self.nul or "\x00" in text
            if name in POLICY_COLUMNS:
                self._policy_cell(name, text, j)
            elif name.startswith(PREMIUM):
                premium[name[len(PREMIUM) :]] = text
            elif name == "rate_version" and cells.get("kind") == "new_business":
                self._policy_cell(name, text, j)
            elif (value := _cell(name, text, ("transactions", j, name), self.issues)) is not (
                _UNREADABLE
            ):
                txn[name] = value
        if premium:
            txn["premium"] = premium
        self.data["transactions"].append(txn)

    def _policy_cell(self, name: str, text: str, j: int) -> None:
        path: Path = (name,) if j == 0 else ("transactions", j, name)
        value = _cell(name, text, path, self.issues)
        if value is _UNREADABLE:
            return
        if j == 0:
            self.data[name] = value
        elif name in self.data and self.data[name] != value:
            self.issues.append((path, f"differs from the policy's first line ({name})"))
        elif name not in self.data:
            self.issues.append((path, f"belongs on the policy's first line ({name})"))

    def read(self) -> ReadPolicy:
        return ReadPolicy(self.data, CsvPlace(tuple(self.lines)), self.issues, nul=self.nul)


def read_csv(stream: TextIO) -> Iterator[ReadPolicy]:
    """Policies from lines grouped by number (a number that comes back later is another
    policy with that number, which the import refuses as given twice)."""
    reader = csv.reader(stream)
    try:
        yield from _groups(reader)
    except csv.Error as error:
        raise UnreadableBookError("#", f"line {reader.line_num}: {error}") from None


def _groups(reader: Any) -> Iterator[ReadPolicy]:
    try:
        header = next(reader)
    except StopIteration:
        raise UnreadableBookError("#", "the file is empty: it needs a header line") from None
    columns = _columns(header)
    group: _Group | None = None
    last_line = reader.line_num
    for values in reader:
        line, last_line = last_line + 1, reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(columns):
            raise UnreadableBookError(
                "#", f"line {line} has {len(values)} cells for {len(columns)} columns"
            )
        cells = {name: value.strip() for name, value in zip(columns, values, strict=True)}
        number = cells["number"]
        if group is None or number != group.data["number"]:
            if group is not None:
                yield group.read()
            group = _Group(number, line)
        group.add(cells, line)
    if group is not None:
        yield group.read()


def first_nul(value: Any, path: Path = ()) -> Path | None:
    """Where a NUL character is (no text column or JSON document can store one), or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = first_nul(key, path) or first_nul(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := first_nul(item, (*path, index))) is not None:
                return found
    return None
