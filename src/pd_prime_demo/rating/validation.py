"""Checks a product version beyond its schema: the references must resolve and the tables must
cover every value the variables allow, exactly once. Each problem names its JSON Pointer."""

from __future__ import annotations

import itertools
import re
from decimal import Decimal

from pd_prime_demo.core.result_types import FieldIssue
from pd_prime_demo.rating.claims_validation import check_claims
from pd_prime_demo.rating.definition import (
    AddStep,
    BandTable,
    BaseStep,
    Cancellation,
    Condition,
    Coverage,
    DiscountStep,
    ExactTable,
    InterpolatedTable,
    MultiplyStep,
    ProductVersionDefinition,
    Scope,
    Variable,
    VariableType,
)

_MAX_EXACT_INTEGER_SPAN = 200


def _variables(defn: ProductVersionDefinition) -> dict[str, Variable]:
    return {f"{v.scope.value}.{v.name}": v for v in defn.variables}


def _allowed_keys(
    ref: str, variables: dict[str, Variable], coverage: Coverage | None
) -> list[str] | None:
    """Every value a ref can take, as table keys; None when it is not enumerable."""
    if ref in ("coverage.limit", "coverage.deductible"):
        if coverage is None:
            return None
        options = coverage.limits if ref == "coverage.limit" else coverage.deductibles
        return [o.code for o in options]
    var = variables.get(ref)
    if var is None:
        return None
    if var.type is VariableType.ENUM:
        return list(var.values or [])
    if var.type is VariableType.BOOLEAN:
        return ["true", "false"]
    if var.type is VariableType.INTEGER and var.minimum is not None and var.maximum is not None:
        span = int(var.maximum) - int(var.minimum)
        if span <= _MAX_EXACT_INTEGER_SPAN:
            return [str(i) for i in range(int(var.minimum), int(var.maximum) + 1)]
    return None


def _ref_problem(ref: str, variables: dict[str, Variable], unit: str | None) -> str | None:
    scope = ref.split(".", 1)[0]
    if ref.startswith("coverage."):
        if ref not in ("coverage.limit", "coverage.deductible"):
            return f"unknown coverage attribute {ref!r}"
        return None if unit is not None else f"{ref!r} is only available inside a coverage"
    if ref not in variables:
        return f"unknown variable {ref!r}"
    if scope == Scope.VEHICLE and unit != "vehicle":
        return f"{ref!r} needs a per-vehicle context (this is {unit or 'policy'}-level)"
    if scope == Scope.DRIVER and unit not in ("vehicle", "driver"):
        return f"{ref!r} needs a per-driver or per-vehicle context (this is policy-level)"
    return None


def _check_table(
    name: str,
    table: ExactTable | BandTable | InterpolatedTable,
    variables: dict[str, Variable],
    coverage: Coverage | None,
    at: str,
) -> list[FieldIssue]:
    issues: list[FieldIssue] = []
    if isinstance(table, ExactTable):
        domains = [_allowed_keys(k, variables, coverage) for k in table.keys]
        seen: set[tuple[str, ...]] = set()
        for i, row in enumerate(table.rows):
            key = tuple(row.key)
            if len(key) != len(table.keys):
                issues.append(FieldIssue(f"{at}/rows/{i}/key", f"needs {len(table.keys)} parts"))
            elif key in seen:
                issues.append(FieldIssue(f"{at}/rows/{i}/key", f"duplicate key {list(key)}"))
            seen.add(key)
        for k, (ref, domain) in enumerate(zip(table.keys, domains, strict=True)):
            if domain is None:
                issues.append(
                    FieldIssue(
                        f"{at}/keys/{k}",
                        f"{ref!r} is not enumerable (use a band or interpolated table)",
                    )
                )
        if all(d is not None for d in domains):
            missing = [
                list(combo)
                for combo in itertools.product(*domains)  # type: ignore[arg-type]
                if combo not in seen
            ]
            if missing:
                shown = ", ".join(str(m) for m in missing[:5])
                more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
                issues.append(
                    FieldIssue(f"{at}/rows", f"table {name!r} has no row for {shown}{more}")
                )
        return issues
    var = variables.get(table.key)
    if var is None or var.type not in (VariableType.INTEGER, VariableType.DECIMAL):
        return [FieldIssue(f"{at}/key", f"{table.key!r} must be a numeric variable")]
    low, high = var.minimum, var.maximum
    if isinstance(table, BandTable):
        bands = sorted(table.bands, key=lambda b: b.min)
        for i, band in enumerate(bands):
            if band.max is not None and band.max <= band.min:
                issues.append(FieldIssue(f"{at}/bands", f"band starting {band.min} is empty"))
            if i + 1 < len(bands):
                nxt = bands[i + 1]
                if band.max is None or band.max > nxt.min:
                    issues.append(
                        FieldIssue(f"{at}/bands", f"bands at {band.min} and {nxt.min} overlap")
                    )
                elif band.max < nxt.min:
                    issues.append(
                        FieldIssue(
                            f"{at}/bands", f"values from {band.max} to {nxt.min} are not covered"
                        )
                    )
        if low is None or bands[0].min > low:
            issues.append(FieldIssue(f"{at}/bands", f"values below {bands[0].min} are not covered"))
        last = bands[-1].max
        if last is not None and (high is None or last <= high):
            issues.append(FieldIssue(f"{at}/bands", f"values from {last} up are not covered"))
        return issues
    xs = [p.x for p in table.points]
    if any(b <= a for a, b in itertools.pairwise(xs)):
        issues.append(FieldIssue(f"{at}/points", "x values must strictly increase"))
    if low is None or xs[0] > low:
        issues.append(FieldIssue(f"{at}/points", f"values below {xs[0]} are not covered"))
    if high is None or xs[-1] < high:
        issues.append(FieldIssue(f"{at}/points", f"values above {xs[-1]} are not covered"))
    return issues


def _check_conditions(
    conditions: list[Condition], variables: dict[str, Variable], unit: str | None, at: str
) -> list[FieldIssue]:
    issues = []
    for i, cond in enumerate(conditions):
        if problem := _ref_problem(cond.ref, variables, unit):
            issues.append(FieldIssue(f"{at}/{i}/ref", problem))
    return issues


def validate_definition(defn: ProductVersionDefinition) -> list[FieldIssue]:
    """All problems with a product version, each at its JSON Pointer; empty when valid."""
    issues: list[FieldIssue] = []
    variables = _variables(defn)
    if len(variables) != len(defn.variables):
        issues.append(FieldIssue("#/variables", "variable names must be unique per scope"))
    for i, var in enumerate(defn.variables):
        at = f"#/variables/{i}"
        if var.type is VariableType.ENUM and not var.values:
            issues.append(FieldIssue(f"{at}/values", "an enum needs its allowed values"))
        if var.type in (VariableType.INTEGER, VariableType.DECIMAL) and (
            var.minimum is None or var.maximum is None or var.minimum > var.maximum
        ):
            issues.append(FieldIssue(at, "a numeric variable needs minimum <= maximum"))
        if var.scope in (Scope.DRIVER, Scope.VEHICLE) and var.scope.value not in defn.units:
            issues.append(FieldIssue(f"{at}/scope", f"the product lists no {var.scope.value}s"))
    coverages = {c.code: c for c in defn.coverages}
    if len(coverages) != len(defn.coverages):
        issues.append(FieldIssue("#/coverages", "coverage codes must be unique"))
    if not any(c.required for c in defn.coverages):
        issues.append(FieldIssue("#/coverages", "at least one coverage must be required"))
    for i, cov in enumerate(defn.coverages):
        at = f"#/coverages/{i}"
        if cov.unit == "vehicle" and "vehicle" not in defn.units:
            issues.append(FieldIssue(f"{at}/unit", "the product lists no vehicles"))
        for field, options, default in (
            ("default_limit", cov.limits, cov.default_limit),
            ("default_deductible", cov.deductibles, cov.default_deductible),
        ):
            codes = [o.code for o in options]
            if len(set(codes)) != len(codes):
                issues.append(
                    FieldIssue(f"{at}/{field.removeprefix('default_')}s", "duplicate option code")
                )
            if default is not None and default not in codes:
                issues.append(FieldIssue(f"{at}/{field}", f"{default!r} is not one of the options"))
            if options and default is None:
                issues.append(FieldIssue(f"{at}/{field}", "a default option is required"))
        for j, needed in enumerate(cov.requires):
            if needed not in coverages:
                issues.append(FieldIssue(f"{at}/requires/{j}", f"unknown coverage {needed!r}"))
        if cov.code not in defn.algorithm.coverages:
            issues.append(
                FieldIssue("#/algorithm/coverages", f"no steps for coverage {cov.code!r}")
            )
    used_tables: dict[str, list[Coverage | None]] = {}
    for code, steps in defn.algorithm.coverages.items():
        at = f"#/algorithm/coverages/{code}"
        covered = coverages.get(code)
        if covered is None:
            issues.append(FieldIssue(at, f"unknown coverage {code!r}"))
            continue
        if not steps or not isinstance(steps[0], BaseStep):
            issues.append(FieldIssue(f"{at}/0", "the first step must be a base step"))
        if steps and steps[-1].op != "round":
            issues.append(
                FieldIssue(f"{at}/{len(steps) - 1}", "the last step must round (explicit rounding)")
            )
        for j, step in enumerate(steps):
            issues += _check_step(step, f"{at}/{j}", defn, variables, covered, used_tables)
    for j, policy_step in enumerate(defn.algorithm.policy):
        issues += _check_step(
            policy_step, f"#/algorithm/policy/{j}", defn, variables, None, used_tables
        )
    for name, table in defn.tables.items():
        for user in used_tables.get(name, [None]) or [None]:
            issues += _check_table(name, table, variables, user, f"#/tables/{name}")
    for i, rule in enumerate(defn.underwriting_rules):
        context = None if rule.scope is Scope.POLICY else rule.scope.value
        issues += _check_conditions(rule.when, variables, context, f"#/underwriting_rules/{i}/when")
    issues += _check_cancellation(defn.cancellation)
    issues += _check_documents(defn, variables)
    issues += check_claims(defn, variables)
    # De-duplicate (a table used by several coverages reports its own faults once each).
    return list(dict.fromkeys(issues))


def _check_step(
    step: object,
    at: str,
    defn: ProductVersionDefinition,
    variables: dict[str, Variable],
    coverage: Coverage | None,
    used_tables: dict[str, list[Coverage | None]],
) -> list[FieldIssue]:
    issues: list[FieldIssue] = []
    unit = coverage.unit if coverage is not None else None
    if isinstance(step, (BaseStep, MultiplyStep, AddStep)):
        constant = step.amount if isinstance(step, (BaseStep, AddStep)) else step.factor
        if (step.table is None) == (constant is None):
            issues.append(FieldIssue(at, "give exactly one of table or a constant"))
        if step.table is not None:
            table = defn.tables.get(step.table)
            if table is None:
                issues.append(FieldIssue(f"{at}/table", f"unknown table {step.table!r}"))
            else:
                used_tables.setdefault(step.table, []).append(coverage)
                refs = table.keys if isinstance(table, ExactTable) else [table.key]
                for ref in refs:
                    if problem := _ref_problem(ref, variables, unit):
                        issues.append(FieldIssue(f"{at}/table", f"table {step.table!r}: {problem}"))
        if not isinstance(step, BaseStep):
            issues += _check_conditions(step.when, variables, unit, f"{at}/when")
    elif isinstance(step, DiscountStep):
        for k, item in enumerate(step.items):
            issues += _check_conditions(item.when, variables, unit, f"{at}/items/{k}/when")
    return issues


def _check_cancellation(cancellation: Cancellation) -> list[FieldIssue]:
    """The short-rate table is read by its basis's bound only, so each row must carry exactly
    that bound, ascending, with earned shares that never fall."""
    at = "#/cancellation"
    issues: list[FieldIssue] = []
    rows = cancellation.short_rate_table
    if cancellation.method == "short_rate" and not rows:
        issues.append(FieldIssue(f"{at}/short_rate_table", "short-rate needs its table"))
    basis = cancellation.short_rate_basis
    by_days = basis == "days_in_force"
    key, other = ("up_to_days", "up_to_percent") if by_days else ("up_to_percent", "up_to_days")
    other_basis = "percent_of_term" if by_days else "days_in_force"
    last: Decimal | None = None  # the latest bound given, for the ascending check
    for i, row in enumerate(rows):
        row_at = f"{at}/short_rate_table/{i}"
        bound = row.up_to_days if by_days else row.up_to_percent
        if bound is None:
            issues.append(FieldIssue(f"{row_at}/{key}", f"a {basis} table's rows give {key}"))
        if getattr(row, other) is not None:
            issues.append(
                FieldIssue(
                    f"{row_at}/{other}",
                    f"not used by a {basis} table (use it with short_rate_basis {other_basis})",
                )
            )
        if bound is not None:
            if last is not None and bound <= last:
                issues.append(
                    FieldIssue(f"{row_at}/{key}", f"must be greater than the row before's ({last})")
                )
            last = Decimal(bound)
        if i and row.earned_percent < rows[i - 1].earned_percent:
            issues.append(
                FieldIssue(
                    f"{row_at}/earned_percent",
                    f"must not be less than the row before's ({rows[i - 1].earned_percent})",
                )
            )
    last_row_bound = rows[-1].up_to_percent if rows else None
    if not by_days and last_row_bound is not None and last_row_bound != Decimal(100):
        issues.append(FieldIssue(f"{at}/short_rate_table", "the last row must reach 100%"))
    percent_of_pro_rata = cancellation.method == "percent_of_pro_rata"
    if percent_of_pro_rata and cancellation.return_percent_of_pro_rata is None:
        issues.append(
            FieldIssue(
                f"{at}/return_percent_of_pro_rata",
                "percent_of_pro_rata needs the share of the pro-rata refund returned",
            )
        )
    if not percent_of_pro_rata and cancellation.return_percent_of_pro_rata is not None:
        issues.append(
            FieldIssue(
                f"{at}/return_percent_of_pro_rata", "only used by the percent_of_pro_rata method"
            )
        )
    return issues


def _check_documents(
    defn: ProductVersionDefinition, variables: dict[str, Variable]
) -> list[FieldIssue]:
    """What the documents read from a version must resolve: a coverage's limit source and
    percentage basis are numeric policy variables, a form names coverages of the product, and a
    schedule field is neither a rating variable of its scope nor a pattern that cannot run."""
    issues: list[FieldIssue] = []
    for i, cov in enumerate(defn.coverages):
        for attr in ("limit_from", "basis"):
            ref = getattr(cov, attr)
            var = variables.get(ref) if ref is not None else None
            if ref is not None and (
                not ref.startswith("policy.")
                or var is None
                or var.type not in (VariableType.INTEGER, VariableType.DECIMAL)
            ):
                issues.append(
                    FieldIssue(
                        f"#/coverages/{i}/{attr}", f"{ref!r} is not a numeric policy variable"
                    )
                )
        percents = [o for o in cov.limits + cov.deductibles if o.percent is not None]
        if percents and cov.basis is None:
            issues.append(FieldIssue(f"#/coverages/{i}/basis", "percentage options need a basis"))
    codes = {c.code for c in defn.coverages}
    for i, form in enumerate(defn.forms):
        for j, code in enumerate(form.coverages):
            if code not in codes:
                issues.append(
                    FieldIssue(f"#/forms/{i}/coverages/{j}", f"unknown coverage {code!r}")
                )
    for scope in (Scope.POLICY, Scope.DRIVER, Scope.VEHICLE):
        fields = getattr(defn.schedule, scope.value)
        names = [f.name for f in fields]
        for k, spec in enumerate(fields):
            at = f"#/schedule/{scope.value}/{k}"
            if f"{scope.value}.{spec.name}" in variables:
                issues.append(FieldIssue(f"{at}/name", f"{spec.name!r} is a rating variable"))
            if names.index(spec.name) != k:
                issues.append(FieldIssue(f"{at}/name", f"duplicate schedule field {spec.name!r}"))
            if spec.pattern is not None:
                try:
                    re.compile(spec.pattern)
                except re.error as exc:
                    issues.append(FieldIssue(f"{at}/pattern", f"not a valid pattern: {exc}"))
        if fields and scope is not Scope.POLICY and scope.value not in defn.units:
            issues.append(
                FieldIssue(f"#/schedule/{scope.value}", f"the product lists no {scope.value}s")
            )
    return issues
