"""The data map, generated from the models: no column that looks personal is unclassified, the
committed docs/data-map.md is the generated one, and the guard itself notices a new column."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

import pd_prime_demo.main  # noqa: F401  (every domain's tables on the metadata)
from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import Category, not_personal, personal
from pd_prime_demo.privacy import datamap

ROOT = Path(__file__).resolve().parents[2]

# Columns other areas of issue 16 still have to classify, each a defect kept visible here: one
# that gets classified fails the test too, so that its line goes.
PENDING: dict[str, str] = {
    "audit_log.changes": "audit/models.py: not_personal (ids and field names only)",
}


def test_every_column_that_looks_personal_is_classified() -> None:
    unclassified = set(datamap.unclassified(Base.metadata))
    assert unclassified - set(PENDING) == set(), (
        "mark these columns info=personal(...) or info=not_personal('why') (core/personal_data.py)"
    )
    assert set(PENDING) - unclassified == set(), "classified now: remove them from PENDING"


def test_the_guard_flags_a_new_personal_looking_column() -> None:
    metadata = MetaData()
    Table(
        "pets",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("owner_email", String(320)),
        Column("vet_notes", Text),
        Column("extra", JSONB),
        Column("species", String(20)),  # looks like nothing personal: not asked about
        Column("nickname", String(40), info=not_personal("the pet's, not a person's")),
        Column("owner_name", String(100), info=personal(Category.IDENTITY)),
    )
    assert datamap.unclassified(metadata) == ["pets.extra", "pets.owner_email", "pets.vet_notes"]
    built = datamap.build(metadata)
    assert [(c.table, c.column) for c in built.columns] == [("pets", "owner_name")]


def test_the_map_describes_the_customer_record() -> None:
    built = datamap.build(Base.metadata)
    ssn = built.find("customers", "ssn_enc")
    assert ssn is not None
    assert ssn.categories == (Category.GOVERNMENT_ID,)
    assert ssn.encrypted
    assert ssn.protected
    risk = built.find("quotes", "risk")
    assert risk is not None
    assert risk.document
    assert not risk.encrypted
    assert built.find("customers", "id") is None
    assert "customers.email" in built.as_dict()["by_category"]["contact"]


def test_protected_categories_are_never_stored_in_the_clear() -> None:
    """GDPR Art. 32 and the house rule: government ids, dates of birth, financial and health
    data and credentials are sealed per field (``*_enc``) or hashed (credentials)."""
    clear = [
        f"{c.table}.{c.column}"
        for c in datamap.build(Base.metadata).columns
        if c.protected and not c.encrypted and not c.column.endswith("_hash")
    ]
    assert clear == []


def test_docs_data_map_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "data-map.md").read_text()
    assert committed == datamap.build(Base.metadata).as_markdown(), (
        "docs/data-map.md is out of date: run "
        "`pd-prime privacy data-map --markdown --output docs/data-map.md`"
    )


def test_the_cli_prints_the_same_map() -> None:
    import json

    from typer.testing import CliRunner

    from pd_prime_demo.privacy_cli import app

    result = CliRunner().invoke(app, ["data-map"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == datamap.build(Base.metadata).as_dict()
