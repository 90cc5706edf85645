"""The control catalogue itself: ids, criteria and documentation, and the pure parts of the
controls (what counts as ciphertext, how the rule files and the runbook are read)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pd_prime_demo.compliance.controls import CONTROLS
from pd_prime_demo.compliance.controls.access import (
    matrix_differences,
    reviewed_matrix,
    role_matrix,
)
from pd_prime_demo.compliance.controls.catalogue_doc import NOTES, markdown
from pd_prime_demo.compliance.controls.encryption import is_protected, stored_value_protected
from pd_prime_demo.compliance.controls.identity_queries import STAFF
from pd_prime_demo.compliance.controls.monitoring import (
    RULES_DIR,
    RUNBOOK,
    documented_alerts,
    read_rules,
)
from pd_prime_demo.core.actor import Permission, Role
from pd_prime_demo.core.crypto import FieldCipher, PasswordHashing
from pd_prime_demo.identity.rules import ROLE_PERMISSIONS, STAFF_ROLES, token_digest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "controls.md"
ISSUE_16 = {"CC6.1", "CC6.2", "CC6.3", "CC6.6", "CC6.7", "CC7.2", "CC7.3", "CC8.1", "A1.2"}


def test_the_catalogue_covers_the_criteria_with_unique_ids() -> None:
    ids = [c.id for c in CONTROLS]
    assert len(ids) == len(set(ids))
    criteria = {c for control in CONTROLS for c in control.criteria}
    assert criteria >= ISSUE_16
    assert any(c.startswith("PI1") for c in criteria)
    assert any(c.startswith("P5") for c in criteria)
    for control in CONTROLS:
        assert control.id.startswith(control.criteria[0].split(".")[0])
        assert control.description.strip()
        assert control.title.strip()


def test_docs_controls_md_is_current() -> None:
    assert set(NOTES) == {c.id for c in CONTROLS}
    assert DOCS.read_text("utf-8") == markdown(CONTROLS), (
        "regenerate: python -m pd_prime_demo.compliance.controls.catalogue_doc > docs/controls.md"
    )


def test_staff_and_the_role_matrix_are_identitys_and_reviewed() -> None:
    assert set(STAFF) == {r.value for r in STAFF_ROLES}
    assert role_matrix() == {
        role.value: sorted(p.value for p in perms) for role, perms in ROLE_PERMISSIONS.items()
    }
    assert matrix_differences(role_matrix(), reviewed_matrix()) == []


def test_a_permission_change_is_named_against_the_reviewed_matrix() -> None:
    changed = dict(ROLE_PERMISSIONS)
    changed[Role.CUSTOMER] = changed[Role.CUSTOMER] | {Permission.CLAIMS_PAY}
    changed[Role.AGENT] = frozenset()
    differences = matrix_differences(role_matrix(changed), reviewed_matrix())
    assert "customer +claims:pay" in differences
    assert any(d.startswith("agent -") for d in differences)


@pytest.mark.parametrize(
    ("value", "protected"),
    [
        ("123-45-6789", False),
        ("1980-02-29", False),
        ("v1.k1", False),  # an envelope's shape without its payload
        ("v2.k1.AAAAAAAAAAAAAAAAAAAAAAAA", False),
        ("$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", True),
        ("$2b$12$abcdefghijklmnopqrstuu", True),
        (token_digest("a refresh token"), True),
        (token_digest("x").upper(), False),
    ],
)
def test_what_counts_as_ciphertext_or_a_hash(value: str, protected: bool) -> None:
    assert is_protected(value) is protected


def test_a_real_envelope_and_password_hash_count_as_protected() -> None:
    cipher = FieldCipher({"k1": os.urandom(32)}, active_kid="k1")
    assert is_protected(cipher.encrypt("123-45-6789", context="customers.ssn"))
    hashing = PasswordHashing(time_cost=1, memory_cost_kib=64, parallelism=1)
    assert is_protected(hashing.hash("a sufficiently long passphrase"))


def test_json_values_are_protected_only_when_every_leaf_is() -> None:
    envelope = "v1.k1." + "A" * 40
    assert stored_value_protected(f'{{"a": "{envelope}", "b": [null, "{envelope}"]}}', is_json=True)
    assert not stored_value_protected(f'{{"a": "{envelope}", "b": "knee"}}', is_json=True)
    assert not stored_value_protected('{"age": 42}', is_json=True)


def test_the_shipped_rules_define_every_alert_the_runbook_documents() -> None:
    rules = read_rules(RULES_DIR)
    assert rules.problems == []
    documented = documented_alerts(RUNBOOK)
    assert "PdPrimeIntegrityCheckFailed" in documented
    assert documented <= rules.alerts.keys()


def test_a_rule_without_an_expression_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "r.yml").write_text("groups:\n  - name: g\n    rules:\n      - alert: A\n")
    assert read_rules(tmp_path).problems == ["r.yml: a rule without an expression"]
    empty = tmp_path / "none"
    empty.mkdir()
    assert read_rules(empty).problems == [f"no rule files in {empty}"]
