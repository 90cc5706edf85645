"""Billing's vocabulary: payment plans, installment states, payment methods, ledger accounts."""

from __future__ import annotations

import enum


class PaymentPlanCode(enum.StrEnum):
    ANNUAL = "annual"
    SEMI_ANNUAL = "semi_annual"
    QUARTERLY = "quarterly"
    MONTHLY = "monthly"


class InstallmentStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # not yet invoiced
    OPEN = "open"  # invoiced, nothing paid against it
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    CANCELLED = "cancelled"  # cover ended before it fell due


class PaymentMethod(enum.StrEnum):
    CARD = "card"
    ACH = "ach"
    CHECK = "check"


class Account(enum.StrEnum):
    """The ledger's accounts."""

    RECEIVABLE = "premium_receivable"  # asset: billed to policyholders, not yet paid
    CASH = "cash"  # asset
    UNEARNED = "unearned_premium"  # liability: written, not yet earned
    EARNED = "earned_premium"  # revenue
    FEES = "fee_income"  # revenue
    TAXES = "taxes_payable"  # liability: collected for the state
    # Claims (claims.service posts them through ``billing.service.post_entry``). Losses
    # incurred = paid + the change in case reserves - recoveries, by cost type.
    LOSS_RESERVES = "case_reserves_loss"  # liability: outstanding indemnity reserves
    LAE_RESERVES = "case_reserves_lae"  # liability: outstanding expense reserves
    LOSS_RESERVE_CHANGE = "change_in_loss_reserves"  # expense
    LAE_RESERVE_CHANGE = "change_in_lae_reserves"  # expense
    PAID_LOSS = "paid_loss"  # expense
    PAID_LAE = "paid_lae"  # expense: loss adjustment expense paid
    RECOVERIES = "salvage_subrogation"  # contra-expense: salvage and subrogation received
