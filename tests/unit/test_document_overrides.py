"""``template_problems``: what ``pd-prime serve`` and ``pd-prime worker`` check at startup.
Every override file and every shipped template is loaded and drawn with the shipped sample
facts of its kind; each problem names the file (and the block) in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from pd_prime_demo.documents.context import Carrier
from pd_prime_demo.documents.service import SAMPLES, template_problems
from pd_prime_demo.documents.templates import SHIPPED

CARRIER = Carrier(name="Lone Star Mutual", naic="12345", address=("1 Main St",))
GOOD = """\
kind: invoice
version: "op.1"
title: "Invoice {{ doc.policy_number }}"
blocks:
  - letterhead: {}
  - paragraph: "Policy {{ doc.policy_number }}"
"""


def _problems(directory: Path | None) -> list[str]:
    return template_problems(directory, carrier=CARRIER)


def test_the_shipped_templates_and_a_good_override_have_no_problems(tmp_path: Path) -> None:
    assert _problems(None) == []
    (tmp_path / "invoice.yaml").write_text(GOOD)
    (tmp_path / "personal_auto").mkdir()
    (tmp_path / "personal_auto" / "invoice.yaml").write_text(GOOD)
    (tmp_path / "README.md").write_text("notes")  # not a template: not a problem
    assert _problems(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("invoice.yaml", "kind: invoice\nversion: [unclosed\n", "while parsing"),
        ("invoice.yaml", GOOD + "  - barcode: {}\n", "block 2: expected one of"),
        (
            "invoice.yaml",
            GOOD + '  - paragraph: "{{ doc.polcy_number }}"\n',
            "block 2 (paragraph): UndefinedError: 'dict object' has no attribute 'polcy_number'",
        ),
        ("invoice.yaml", GOOD.replace("kind: invoice", "kind: declarations"), "declares kind"),
        ("invoice.yml", GOOD, "never read"),
        ("invoices.yaml", GOOD, "never read"),
        ("Personal-Auto/invoice.yaml", GOOD, "never read"),
    ],
)
def test_a_broken_override_is_named_with_why(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    problems = _problems(tmp_path)
    assert len(problems) >= 1, problems
    assert all(str(path) in p for p in problems), problems
    assert any(expected in p for p in problems), problems


def test_a_template_for_any_product_is_drawn_with_every_products_sample(tmp_path: Path) -> None:
    """A template of any product is drawn for each product's sample; one of a product only
    with that product's."""
    broken = (
        GOOD.replace("kind: invoice", "kind: declarations") + '  - paragraph: "{{ doc.nope }}"\n'
    )
    (tmp_path / "declarations.yaml").write_text(broken)
    products = sorted(p.stem.split("__")[0] for p in SAMPLES.glob("*__declarations.json"))
    assert products == ["homeowners_ho3", "personal_auto"]
    problems = _problems(tmp_path)
    assert len(problems) == len(products), problems
    for problem, code in zip(problems, products, strict=True):
        assert problem.endswith(f"(with the {code} sample)"), problem
    (tmp_path / "declarations.yaml").unlink()
    (tmp_path / "homeowners_ho3").mkdir()
    (tmp_path / "homeowners_ho3" / "declarations.yaml").write_text(broken)
    [problem] = _problems(tmp_path)
    assert problem.endswith("(with the homeowners_ho3 sample)")


def test_a_missing_directory_is_a_problem(tmp_path: Path) -> None:
    assert _problems(tmp_path / "nowhere") == [
        f"{tmp_path / 'nowhere'}: document_templates_dir is not a directory"
    ]
    assert SHIPPED.is_dir()
