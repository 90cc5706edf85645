"""The customer vocabulary."""

from __future__ import annotations

import enum


class CustomerKind(enum.StrEnum):
    """What a customer is; the API spells these as the ``kind`` discriminator in schemas.py.

    schemas.py keeps them as string ``Literal`` types: a ``Literal`` of enum members would show
    as ``<CustomerKind.PERSON: 'person'>`` in a 422's message instead of ``'person'``.
    """

    PERSON = "person"
    ORGANISATION = "organisation"
