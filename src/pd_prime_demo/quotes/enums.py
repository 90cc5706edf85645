"""The quote vocabulary: its statuses."""

from __future__ import annotations

import enum


class QuoteStatus(enum.StrEnum):
    DRAFT = "draft"
    QUOTED = "quoted"
    REFERRED = "referred"
    APPROVED = "approved"
    DECLINED = "declined"
    EXPIRED = "expired"
    BOUND = "bound"


OPEN_STATUSES = frozenset(
    {QuoteStatus.DRAFT, QuoteStatus.QUOTED, QuoteStatus.REFERRED, QuoteStatus.APPROVED}
)
EDITABLE_STATUSES = frozenset({QuoteStatus.DRAFT, QuoteStatus.QUOTED})
BINDABLE_STATUSES = frozenset({QuoteStatus.QUOTED, QuoteStatus.APPROVED})
