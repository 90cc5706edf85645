"""Billing use cases: accounts and schedules, invoices, payments and refunds, delinquency, the
ledger and earned premium. Other domains use billing only through this module."""

from pd_prime_demo.billing.enums import Account, InstallmentStatus, PaymentMethod, PaymentPlanCode
from pd_prime_demo.billing.ledger import (
    EarnedInPeriod,
    Line,
    TrialBalance,
    balances,
    credit,
    debit,
    earned_by_period,
    trial_balance,
)
from pd_prime_demo.billing.ledger import post as post_entry
from pd_prime_demo.billing.service.accounts import (
    AccountOpening,
    PremiumChange,
    on_transaction,
    open_account,
    plans_for,
    settle,
)
from pd_prime_demo.billing.service.delinquency import (
    AccountRange,
    BillingRun,
    CancelPolicy,
    DueCancellation,
    Skipped,
    account_ranges,
    bill_accounts,
    non_payment_cancellation_due,
    run_billing,
)
from pd_prime_demo.billing.service.earning import (
    LedgerPremium,
    PremiumFigures,
    ledger_premium,
    post_earned,
    premium_figures,
)
from pd_prime_demo.billing.service.imports import (
    AccountRows,
    BookedChange,
    ConvertedAccount,
    PaidTooMuch,
    conversion_payments,
    open_converted_accounts,
    plan_converted_account,
)
from pd_prime_demo.billing.service.invoicing import invoice_due
from pd_prime_demo.billing.service.payments import Recorded, pay
from pd_prime_demo.billing.service.refunds import refund_if_due
from pd_prime_demo.billing.service.views import (
    AccountView,
    InstallmentView,
    account_for,
    money_of,
    read_account,
    view,
)

__all__ = [
    "Account",
    "AccountOpening",
    "AccountRange",
    "AccountRows",
    "AccountView",
    "BillingRun",
    "BookedChange",
    "CancelPolicy",
    "ConvertedAccount",
    "DueCancellation",
    "EarnedInPeriod",
    "InstallmentStatus",
    "InstallmentView",
    "LedgerPremium",
    "Line",
    "PaidTooMuch",
    "PaymentMethod",
    "PaymentPlanCode",
    "PremiumChange",
    "PremiumFigures",
    "Recorded",
    "Skipped",
    "TrialBalance",
    "account_for",
    "account_ranges",
    "balances",
    "bill_accounts",
    "conversion_payments",
    "credit",
    "debit",
    "earned_by_period",
    "invoice_due",
    "ledger_premium",
    "money_of",
    "non_payment_cancellation_due",
    "on_transaction",
    "open_account",
    "open_converted_accounts",
    "pay",
    "plan_converted_account",
    "plans_for",
    "post_earned",
    "post_entry",
    "premium_figures",
    "read_account",
    "refund_if_due",
    "run_billing",
    "settle",
    "trial_balance",
    "view",
]
