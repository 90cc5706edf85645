"""The corrections a rectification asks for (GDPR Art. 16, CCPA 1798.106), validated exactly as
customers' own update use case validates a change: the same model, so a correction the request
accepts is one the update applies.

``customers.service`` does not re-export ``CustomerUpdate`` and the import contract lets privacy
use customers only through its service, so the model is read from ``update_customer``'s
signature; once the service exports it, this becomes a plain import.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from pd_prime_demo.core.result_types import DomainError, Err, FieldIssue, Ok, Result, invalid
from pd_prime_demo.customers import service as customers

CustomerUpdate: type[BaseModel] = typing.get_type_hints(customers.update_customer)["changes"]
# A correction changes the person's own data, never who their agent is.
_NOT_CORRECTABLE = frozenset({"agent_id"})


def parse(data: dict[str, Any]) -> Result[BaseModel, DomainError]:
    """The corrections as the update model, or a 422 naming each field that is wrong."""
    try:
        changes = CustomerUpdate.model_validate(data)
    except ValidationError as exc:
        issues = [
            FieldIssue("#/corrections/" + "/".join(str(p) for p in e["loc"]), e["msg"])
            for e in exc.errors()
        ]
        return Err(invalid("privacy.corrections", "the corrections are not valid", *issues))
    fields = changes.model_fields_set
    if not fields or fields & _NOT_CORRECTABLE:
        return Err(
            invalid(
                "privacy.corrections",
                "corrections change the person's own data (not their agent), at least one field",
                FieldIssue("#/corrections", "personal data fields only, at least one"),
            )
        )
    return Ok(changes)
