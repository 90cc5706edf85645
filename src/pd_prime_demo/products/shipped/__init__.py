"""The shipped product versions: Personal Auto and Homeowners HO-3, each filed in TX, OH and FL.

They are data, not code: one JSON file per version in this package, named
``{product_code}-{state}-{version}.json``, validated by the same ``parse_definition`` as a
carrier's upload and seeded through ``upload_version``. The numbers are illustrative, shaped
like real rate manuals (territory base rates, increased-limit and deductible factors, driver and
vehicle classes, amount-of-insurance curves, state fees).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from pd_prime_demo.core.result_types import Err, Ok
from pd_prime_demo.products.service import parse_definition
from pd_prime_demo.rating.definition import ProductVersionDefinition


def shipped_files() -> list[Traversable]:
    """The JSON files, in name order."""
    files = (f for f in resources.files(__name__).iterdir() if f.name.endswith(".json"))
    return sorted(files, key=lambda f: f.name)


def shipped_documents() -> list[dict[str, Any]]:
    """Each file's JSON as uploaded (fresh dicts: callers may change them)."""
    return [json.loads(f.read_text("utf-8")) for f in shipped_files()]


@functools.cache
def _definitions() -> tuple[ProductVersionDefinition, ...]:
    definitions = []
    for file, raw in zip(shipped_files(), shipped_documents(), strict=True):
        match parse_definition(raw):
            case Ok(definition):
                definitions.append(definition)
            case Err(error):
                problems = "; ".join(f"{e.pointer}: {e.detail}" for e in error.errors)
                raise ValueError(f"shipped product {file.name} is not valid: {problems}")
    return tuple(definitions)


def shipped_definitions() -> list[ProductVersionDefinition]:
    """Every shipped version, validated (definitions are frozen, so they are parsed once)."""
    return list(_definitions())


def shipped(product_code: str, state: str) -> ProductVersionDefinition:
    """The shipped version of ``product_code`` filed in ``state``."""
    for definition in _definitions():
        if (definition.product_code, definition.state) == (product_code, state):
            return definition
    raise LookupError(f"no shipped version of {product_code} in {state}")
