"""Rating a risk with one or more coverage packages, after validating both against the version.

Quotes rate up to three packages side by side; endorsements and renewals rate the one package
in force. Validation problems come back as one error with a JSON Pointer per problem, so a
client can show each next to its field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, invalid
from pd_prime_demo.rating.definition import ProductVersionDefinition
from pd_prime_demo.rating.engine import CompiledProduct, RatingInput, RatingResult
from pd_prime_demo.rating.risk import build_risk, build_selections


@dataclasses.dataclass(frozen=True, slots=True)
class Rated:
    results: list[tuple[str, RatingResult]]  # (package name, its rating), in request order
    risk: RatingInput


def rate_packages(
    definition: ProductVersionDefinition,
    engine: CompiledProduct,
    risk: dict[str, Any],
    packages: Sequence[dict[str, Any]],
    surcharge: Decimal | None,
    *,
    explain: bool = False,
    pointer: str = "#/options/{index}/coverages",
) -> Result[Rated, DomainError]:
    """Validate the risk and every package (``{"name", "coverages"}``), then rate each.

    ``pointer`` locates a package's coverages in the caller's request body.
    """
    rating_input, issues = build_risk(definition, risk)
    chosen = []
    for index, package in enumerate(packages):
        selections, package_issues = build_selections(
            definition, package.get("coverages", {}), pointer.format(index=index)
        )
        issues += package_issues
        chosen.append((str(package["name"]), selections))
    if issues:
        return Err(
            invalid("quote.invalid_risk", "the risk or coverage choices are not valid", *issues)
        )
    results = [
        (
            name,
            engine.rate(
                dataclasses.replace(rating_input, coverages=selections, surcharge=surcharge),
                explain=explain,
            ),
        )
        for name, selections in chosen
    ]
    return Ok(Rated(results, rating_input))
