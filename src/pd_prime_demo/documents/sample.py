# ruff: noqa: E501 - the template is YAML data, its lines as long as its strings
"""A sample template using every block, with realistic facts: the benchmark's fallback when a
kind has no shipped template, the engine's tests, and an example of the format."""

from __future__ import annotations

from typing import Any

SAMPLE_TEMPLATE = """\
kind: declarations
version: "sample.1"
title: "Declarations {{ doc.policy_number }}"
blocks:
  - letterhead: {}
  - address: "{{ insured.name }}\\n{{ insured.address_lines | join('\\n') }}"
  - heading: "Personal auto policy declarations"
  - fields:
      - ["Policy number", "{{ doc.policy_number }}"]
      - ["Transaction", "{{ doc.transaction | words }}"]
      - ["Issued", "{{ issued_at | date }}"]
  - fields:
      - ["Policy period", "{{ doc.term_start | date }} to {{ doc.term_end | date }}, 12:01 a.m. standard time at the insured's address"]
  - fields:
      - ["Named insured", "{{ insured.name }}"]
      - ["Producer", "{{ doc.producer.name }}, {{ doc.producer.email }}"]
  - heading: "Vehicles"
    size: 13
  - table:
      columns:
        - {title: "#", share: 0.06}
        - {title: "Year, make and model", share: 0.44}
        - {title: "VIN", share: 0.32}
        - {title: "Premium", share: 0.18, align: R}
      rows: "doc.vehicles"
      cells: ["{{ row.number }}", "{{ row.description }}", "{{ row.vin }}", "{{ row.premium | money }}"]
  - heading: "Drivers"
    size: 13
  - table:
      columns: [{title: "Driver", share: 0.6}, {title: "Licence state", share: 0.4}]
      rows: "doc.drivers"
      cells: ["{{ row.name }}", "{{ row.licence_state }}"]
  - heading: "Coverages"
    size: 13
  - table:
      columns:
        - {title: "Coverage", share: 0.4}
        - {title: "Limit", share: 0.24}
        - {title: "Deductible", share: 0.18}
        - {title: "Premium", share: 0.18, align: R}
      rows: "doc.coverages"
      cells: ["{{ row.name }}", "{{ row.limit }}", "{{ row.deductible }}", "{{ row.premium | money }}"]
      footer:
        - ["Policy fee", "", "", "{{ doc.fees | money }}"]
        - ["Total term premium", "", "", "{{ doc.total | money }}"]
  - heading: "Forms and endorsements"
    size: 13
  - paragraph: "{{ form.number }} ({{ form.edition }}) {{ form.title }}"
    for: "doc.forms"
    as: form
  - paragraph: "Cancelled {{ doc.cancellation.method | words }}, return premium {{ doc.cancellation.refund | money }}."
    when: "doc.cancellation"
  - rule: {}
  - paragraph: "This declarations page, with the policy form and the endorsements listed above, makes up your policy.\\nQuestions? Call {{ carrier.phone }} or write to {{ carrier.email }}."
  - spacer: 2
  - paragraph: "{{ carrier.payment_instructions }}"
  - coupon:
      heading: "Payment coupon"
      fields:
        - ["Policy", "{{ doc.policy_number }}"]
        - ["Insured", "{{ insured.name }}"]
        - ["Amount due", "{{ doc.installment | money }}"]
        - ["Due", "{{ doc.due_on | date }}"]
      address: "{{ carrier.remit_to | join('\\n') }}"
"""


def sample_facts(vehicles: int = 2, coverages: int = 6) -> dict[str, Any]:
    """Facts as a policy's declarations would state them (money as strings)."""
    makes = ("Honda Civic LX", "Ford F-150 XLT", "Toyota RAV4 XLE", "Subaru Outback")
    names = (
        "Bodily injury liability",
        "Property damage liability",
        "Uninsured motorist bodily injury",
        "Medical payments",
        "Comprehensive",
        "Collision",
        "Rental reimbursement",
        "Towing and labor",
    )
    return {
        "policy_number": "PA-TX-0000042",
        "transaction": "new_business",
        "term_start": "2027-03-01",
        "term_end": "2027-09-01",
        "producer": {"name": "Dana Agent", "email": "dana.agent@example.com"},
        "vehicles": [
            {
                "number": i + 1,
                "description": f"{2018 + i} {makes[i % len(makes)]}",
                "vin": f"1HGCM82633A00{4352 + i}",
                "premium": f"{412 + 37 * i}.50",
            }
            for i in range(vehicles)
        ],
        "drivers": [
            {"name": "Jane Roe", "licence_state": "TX"},
            {"name": "John Roe", "licence_state": "TX"},
        ],
        "coverages": [
            {
                "name": names[i % len(names)],
                "limit": "$100,000 each person / $300,000 each accident" if i == 0 else "$50,000",
                "deductible": "$500" if i >= 4 else "",
                "premium": f"{120 + 15 * i}.00",
            }
            for i in range(coverages)
        ],
        "fees": "25.00",
        "total": "1512.00",
        "forms": [
            {"number": "PP 00 01", "edition": "09 18", "title": "Personal auto policy"},
            {"number": "PP 03 06", "edition": "09 18", "title": "Towing and labor costs"},
        ],
        "cancellation": None,
        "installment": "252.00",
        "due_on": "2027-03-15",
    }
