"""The settings of documents: the carrier's identity as every document prints it, where
operators' templates and extra fonts are. Part of :class:`~pd_prime_demo.core.config.Settings`
(a base class of it, so the section reads as one place)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import NoDecode

DEMO_CARRIER_NAIC = "99999"  # no NAIC company code is 99999: the demo carrier's

# The settings that name the insurer on documents; each default is the demo carrier's.
CARRIER_FIELDS = (
    "carrier_name",
    "carrier_naic",
    "carrier_address",
    "carrier_phone",
    "carrier_email",
    "carrier_website",
    "carrier_remit_to",
    "carrier_payment_instructions",
)


class DocumentSettings(BaseModel):
    # --- Documents (issue 17): the carrier's identity as every document prints it ---
    # The insurer that issues the policies (not the platform): its legal name, NAIC company
    # code, mailing address (one line per entry), and how a policyholder reaches it. The
    # defaults are an obviously fictitious demo carrier; production must set its own
    # (`pd-prime serve` and `pd-prime worker` refuse to start in production while any of
    # them is still the demo carrier's: see :meth:`demo_carrier_settings`).
    carrier_name: str = Field(default="PD Prime Demo Insurance Company", min_length=1)
    carrier_naic: str = Field(default=DEMO_CARRIER_NAIC, pattern=r"^[0-9]{5}$")
    carrier_address: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["100 Congress Avenue, Suite 400", "Austin, TX 78701"],
        min_length=1,
    )
    carrier_phone: str = "1-800-555-0100"
    carrier_email: str = "service@demo.pdprime.example"
    carrier_website: str = "https://demo.pdprime.example"
    # Where payments by mail go (a lockbox usually differs from the mailing address), and the
    # instructions printed on every invoice and non-payment notice.
    carrier_remit_to: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "PD Prime Demo Insurance Company",
            "Payment Processing Center",
            "PO Box 1000",
            "Austin, TX 78767-1000",
        ],
        min_length=1,
    )
    carrier_payment_instructions: str = (
        "Pay online in the customer portal, by phone at 1-800-555-0100, or by check payable to "
        "PD Prime Demo Insurance Company mailed with the coupon below. Write your policy number "
        "on your check."
    )
    # A directory of templates that override the shipped ones (docs/documents.md): a file
    # <dir>/<product_code>/<kind>.yaml or <dir>/<kind>.yaml wins over the shipped template.
    document_templates_dir: Path | None = None
    # Extra font files tried, in order, for characters the shipped fonts lack (CJK, say:
    # `pip install pd-prime-demo[cjk]` adds Noto Sans CJK, found without configuring it).
    document_fonts: Annotated[list[Path], NoDecode] = Field(default_factory=list)

    @field_validator("carrier_address", "carrier_remit_to", "document_fonts", mode="before")
    @classmethod
    def _lines(cls, value: object) -> object:
        # From the environment: lines separated by "|" ("100 Main St|Austin, TX 78701").
        if isinstance(value, str):
            return [v.strip() for v in value.split("|") if v.strip()]
        return value

    def demo_carrier_settings(self) -> list[str]:
        """The carrier settings still at the demo carrier's value (environment variable
        names): documents would print a fictitious insurer, or send checks to its lockbox."""
        fields = type(self).model_fields
        return [
            f"PD_PRIME_{name.upper()}"
            for name in CARRIER_FIELDS
            if getattr(self, name) == fields[name].get_default(call_default_factory=True)
        ]
