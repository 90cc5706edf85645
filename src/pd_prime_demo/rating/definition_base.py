"""The building blocks every part of the product version format shares: codes, references to
rating inputs, factors, amounts, and the frozen model every part of it is."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,49}$")]
# A reference to a rating input: "policy.<var>", "driver.<var>", "vehicle.<var>",
# "coverage.limit" or "coverage.deductible".
Ref = Annotated[str, Field(pattern=r"^(policy|driver|vehicle|coverage)\.[a-z][a-z0-9_]{0,49}$")]
Factor = Annotated[Decimal, Field(ge=0, le=1000, decimal_places=6)]
Amount = Annotated[Decimal, Field(ge=-1_000_000, le=100_000_000, decimal_places=4)]


class Def(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
