"""Building a converted policy: its history as the transitions live business would have
recorded, checked against the product versions, every problem with its path (pure, given the
versions).

The history is given in the order it took effect and must read as live business could have
lived it: new business first, each transaction effective no earlier than the one before, every
state valid for its product version (``rating.packages``: the same checks as a quote's), and
every term as long as its version says. Underwriting rules are not applied again: the legacy
carrier underwrote this business.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from pd_prime_demo.billing import service as billing
from pd_prime_demo.core.result_types import Err, Ok
from pd_prime_demo.policies import rules
from pd_prime_demo.policies.service import import_steps as steps
from pd_prime_demo.policies.service.common import proration_of
from pd_prime_demo.policies.service.import_format import BookPolicy, BookTransaction
from pd_prime_demo.policies.service.import_read import Issue, Path
from pd_prime_demo.policies.state import PolicyState
from pd_prime_demo.premium.proration import add_months
from pd_prime_demo.products import service as products
from pd_prime_demo.rating.packages import rate_packages
from pd_prime_demo.rating.schemas import CoverageChoice, RiskData

STATE_KINDS = frozenset({"new_business", "endorsement", "renewal"})
TERM_OPENING = frozenset({"new_business", "renewal"})
STATE_FIELDS = ("risk", "coverages", "premium", "fees", "taxes")


@dataclass(frozen=True, slots=True)
class VersionHeader:
    """What choosing a version needs to know about it."""

    id: uuid.UUID
    label: str
    status: str
    effective_new_business: date
    effective_renewal: date


@dataclass(slots=True)
class Catalog:
    """The product versions converted policies may use, by product and state, and compiled."""

    headers: dict[tuple[str, str], list[VersionHeader]] = field(default_factory=dict)
    compiled: dict[uuid.UUID, products.CompiledVersion] = field(default_factory=dict)

    def choose(
        self, product_code: str, state: str, *, label: str | None, on: date, renewal: bool
    ) -> VersionHeader | str:
        """The version named (any but a draft), or the active one in force ``on`` for new
        business or renewals (``products.version_in_force``'s rule); else what is wrong."""
        headers = self.headers.get((product_code, state), [])
        if label is not None:
            named = [h for h in headers if h.label == label and h.status != "draft"]
            return named[0] if named else f"no version {label} of {product_code} in {state}"
        active = [
            h
            for h in headers
            if h.status == "active"
            and (h.effective_renewal if renewal else h.effective_new_business) <= on
        ]
        if not active:
            kind = "renewals" if renewal else "new business"
            return f"no active version of {product_code} in {state} for {kind} on {on}"
        return max(
            active, key=lambda h: h.effective_renewal if renewal else h.effective_new_business
        )


@dataclass(frozen=True, slots=True)
class Step:
    """A transaction to record: the transition, its version, and when it was booked."""

    transition: rules.Transition
    version: products.CompiledVersion
    booked_on: date
    change: dict[str, Any]

    @property
    def accounting_on(self) -> date:
        return max(self.transition.effective_on, self.booked_on)


@dataclass(frozen=True, slots=True)
class Built:
    policy: BookPolicy
    customer_id: uuid.UUID
    steps: list[Step]
    paid: list[tuple[date, Decimal, Path]]  # (term start, received, where the file says it)
    engine_premium: Decimal | None  # our rating of the state in force last

    @property
    def inception_on(self) -> date:
        return self.steps[0].transition.state.term_start

    @property
    def term_premium(self) -> Decimal:
        return max(
            self.steps, key=lambda s: s.transition.effective_on
        ).transition.state.term_premium


def pointer_path(pointer: str) -> Path:
    parts = pointer.removeprefix("#").split("/")[1:]
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in parts)


def _normalised(tx: BookTransaction, at: Path, issues: list[Issue]) -> tuple[Any, Any]:
    """The risk and coverages as the platform stores them (a quote's own shapes)."""
    risk: Any = None
    if tx.risk is not None:
        try:
            risk = RiskData.model_validate(tx.risk).model_dump(mode="json")
        except ValidationError as exc:
            issues += [((*at, "risk", *e["loc"]), e["msg"]) for e in exc.errors()]
    coverages: dict[str, Any] = {}
    for code, choice in (tx.coverages or {}).items():
        try:
            coverages[code] = CoverageChoice.model_validate(choice).model_dump(exclude_none=True)
        except ValidationError as exc:
            issues += [((*at, "coverages", code, *e["loc"]), e["msg"]) for e in exc.errors()]
    return risk, coverages


class _Builder:
    def __init__(self, policy: BookPolicy, customer_id: uuid.UUID, catalog: Catalog, today: date):
        self.policy = policy
        self.customer_id = customer_id
        self.catalog = catalog
        self.today = today
        self.issues: list[Issue] = []
        self.steps: list[Step] = []
        self.paid: list[tuple[date, Decimal, Path]] = []
        self.engine_premium: Decimal | None = None

    def problem(self, path: Path, detail: str) -> None:
        self.issues.append((path, detail))

    def version_for(self, tx: BookTransaction, at: Path) -> products.CompiledVersion | None:
        policy = self.policy
        renewal = tx.kind == "renewal"
        label, label_at = tx.rate_version, (*at, "rate_version")
        if not renewal and label is None and policy.rate_version is not None:
            label, label_at = policy.rate_version, ("rate_version",)
        elif not renewal and policy.rate_version not in (None, label):
            self.problem(label_at, "differs from the policy's rate_version")
        if tx.term_start is None:
            self.problem((*at, "term_start"), "required: the term this transaction opens")
            return None
        chosen = self.catalog.choose(
            policy.product_code, policy.state, label=label, on=tx.term_start, renewal=renewal
        )
        if isinstance(chosen, str):
            self.problem(label_at if label else (*at, "term_start"), chosen)
            return None
        return self.catalog.compiled[chosen.id]

    def state_fields(
        self, tx: BookTransaction, version: products.CompiledVersion, at: Path
    ) -> steps.NewState | None:
        """The state the transaction leaves, validated against ``version``."""
        missing = [name for name in STATE_FIELDS if getattr(tx, name) is None]
        for name in missing:
            self.problem((*at, name), "required: the state after the transaction")
        if missing:
            return None
        issues: list[Issue] = []
        risk, coverages = _normalised(tx, at, issues)
        premiums = tx.premium or {}
        for code in coverages:
            if code not in premiums:
                issues.append(((*at, "premium", code), "required: the premium of every coverage"))
        for code, amount in premiums.items():
            if code not in coverages:
                issues.append(((*at, "premium", code), "not among the coverages"))
            elif amount < 0:
                issues.append(((*at, "premium", code), "must not be negative"))
        for name in ("term_premium", "fees", "taxes"):
            if (getattr(tx, name) or 0) < 0:
                issues.append(((*at, name), "must not be negative"))
        if risk is not None and not issues:
            package = {"name": self.policy.option, "coverages": coverages}
            defn = version.definition
            match rate_packages(defn, version.engine, risk, [package], None, pointer="#/coverages"):
                case Err(error):
                    issues += [(at + pointer_path(e.pointer), e.detail) for e in error.errors]
                case Ok(rated):
                    self.engine_premium = rated.results[0][1].premium
        self.issues += issues
        if issues:
            return None
        priced = steps.priced_as_given(version, tx, premiums)
        return steps.NewState(tx, risk, coverages, priced, version, at)

    def same_state(self, state: PolicyState, tx: BookTransaction, at: Path) -> None:
        """A cancellation, reinstatement or non-renewal leaves risk and premiums as they were:
        the file may repeat them, not change them."""
        issues: list[Issue] = []
        risk, coverages = _normalised(tx, at, issues)
        self.issues += issues
        given: dict[str, Any] = {
            "risk": risk if tx.risk is not None else None,
            "coverages": coverages if tx.coverages is not None else None,
            "premium": tx.premium,
            "fees": tx.fees,
            "taxes": tx.taxes,
            "term_start": tx.term_start,
            "term_end": tx.term_end,
        }
        current: dict[str, Any] = {
            "risk": state.risk,
            "coverages": state.coverages,
            "premium": state.coverage_premiums,
            "fees": state.fees,
            "taxes": state.taxes,
            "term_start": state.term_start,
            "term_end": state.term_end,
        }
        for name, value in given.items():
            if value is not None and value != current[name]:
                self.problem((*at, name), f"a {tx.kind} keeps the state in force: leave it out")

    def build(self) -> Built | list[Issue]:
        state: PolicyState | None = None
        version: products.CompiledVersion | None = None
        for j, tx in enumerate(self.policy.transactions):
            at: Path = ("transactions", j)
            before = len(self.issues)
            self.check_order(j, tx, at)
            if len(self.issues) > before:
                break
            if tx.kind in TERM_OPENING:
                version = self.version_for(tx, at)
                if version is not None:
                    self.check_term(tx, version, at)
            else:
                for name in ("rate_version", "paid_to_date"):
                    if getattr(tx, name) is not None:
                        self.problem((*at, name), "only new business or a renewal has one")
                if state is not None:
                    version = self.catalog.compiled[state.product_version_id]
                    if tx.term_start not in (None, state.term_start) or tx.term_end not in (
                        None,
                        state.term_end,
                    ):
                        self.problem((*at, "term_start"), "not the term in force")
            if tx.kind in STATE_KINDS:
                for name in ("premium_change", "taxes_change"):
                    if getattr(tx, name) is not None:
                        self.problem((*at, name), "derived from the states: leave it out")
            if version is None or len(self.issues) > before:
                break
            outcome = self.transition(state, tx, version, at)
            if isinstance(outcome, list):
                self.issues += outcome
            if self.issues:
                break
            assert not isinstance(outcome, list)
            transition, change = outcome
            self.steps.append(Step(transition, version, tx.booked_on, change))
            if tx.paid_to_date is not None:
                if tx.paid_to_date < 0:
                    self.problem((*at, "paid_to_date"), "must not be negative")
                assert tx.term_start is not None
                self.paid.append((tx.term_start, tx.paid_to_date, (*at, "paid_to_date")))
            state = transition.state
        if self.issues:
            return self.issues
        return Built(self.policy, self.customer_id, self.steps, self.paid, self.engine_premium)

    def check_order(self, j: int, tx: BookTransaction, at: Path) -> None:
        if (j == 0) != (tx.kind == "new_business"):
            detail = "the history starts with new business, and only once"
            self.problem((*at, "kind"), detail)
        if tx.booked_on > self.today:
            self.problem((*at, "booked_on"), "in the future: only what was booked converts")
        if self.steps and tx.effective_on < self.steps[-1].transition.effective_on:
            self.problem(
                (*at, "effective_on"),
                "before the transaction above it: give the history in the order it took effect",
            )

    def check_term(self, tx: BookTransaction, version: products.CompiledVersion, at: Path) -> None:
        assert tx.term_start is not None
        months = version.definition.term_months
        if tx.term_end != add_months(tx.term_start, months):
            self.problem((*at, "term_end"), f"the product's terms are {months} months")
        if tx.effective_on != tx.term_start:
            self.problem((*at, "effective_on"), f"a {tx.kind} takes effect when its term starts")
        plans = {p.code for p in billing.plans_for(version.definition)}
        if self.policy.payment_plan not in plans:
            self.problem(("payment_plan",), f"must be one of {sorted(plans)}")

    def transition(
        self,
        state: PolicyState | None,
        tx: BookTransaction,
        version: products.CompiledVersion,
        at: Path,
    ) -> steps.Outcome:
        entries = [s.transition for s in self.steps]
        if tx.kind in STATE_KINDS:
            new = self.state_fields(tx, version, at)
            if new is None:
                return []
            if state is None:
                assert tx.term_start is not None
                assert tx.term_end is not None
                return rules.issue(
                    term_start=tx.term_start,
                    term_end=tx.term_end,
                    option=self.policy.option,
                    coverages=new.coverages,
                    risk=new.risk,
                    priced=new.priced,
                    surcharge=None,
                    payment_plan=self.policy.payment_plan,
                    insured_id=self.customer_id,
                    proration=proration_of(version),
                ), {}
            if tx.kind == "endorsement":
                return steps.endorse(state, new)
            assert tx.term_end is not None
            return steps.renew(state, new, term_end=tx.term_end)
        assert state is not None
        self.same_state(state, tx, at)
        if tx.kind == "cancellation":
            return steps.cancel(state, entries, tx, version=version, at=at)
        if tx.kind == "reinstatement":
            return steps.reinstate(state, entries, tx, version=version, at=at)
        return steps.non_renew(state, tx, at=at)


def build_policy(
    policy: BookPolicy, *, customer_id: uuid.UUID, catalog: Catalog, today: date
) -> Built | list[Issue]:
    """The policy's history as transitions, or every problem found before the first
    transaction that cannot be built (later ones depend on it)."""
    return _Builder(policy, customer_id, catalog, today).build()
