"""The authorization matrix's rows for the privacy routes of issue 16 (see tests/authz_rows.py).

Requests and consents are a person's own business: SELF routes (a login session, not a client
or key), where the service gives 404 for another person's, and staff need privacy:manage.
``{request_id}`` is a random id in the matrix's world (so every caller allowed past
authorization gets 404): the other's-request case is tested in tests/api/test_privacy_requests.py.
"""

from __future__ import annotations

from tests.authz_rows import PUBLIC, SELF, P, Row

REQUEST = "/api/v1/privacy/requests/{request_id}"
CONSENTS = "/api/v1/privacy/customers/{customer_id}"

PRIVACY_ROWS: tuple[Row, ...] = (
    Row("GET", "/api/v1/privacy/data-map", P.PRIVACY_MANAGE),
    Row("POST", "/api/v1/privacy/notices", P.PRIVACY_MANAGE),
    Row("GET", "/api/v1/privacy/consents", SELF),
    Row("POST", "/api/v1/privacy/consents", SELF),
    Row("GET", CONSENTS + "/consents", SELF, owned="customer"),
    Row(
        "POST",
        CONSENTS + "/consents",
        SELF,
        owned="customer",
        body={"purpose": "marketing_email", "granted": False},
    ),
    Row("GET", CONSENTS + "/consent-records", SELF, owned="customer"),
    Row("POST", "/api/v1/privacy/requests", SELF),
    Row("GET", "/api/v1/privacy/requests", SELF),
    Row("POST", "/api/v1/privacy/requests/intake", PUBLIC),
    Row("POST", "/api/v1/privacy/requests/verification", PUBLIC),
    Row("GET", REQUEST, SELF),
    Row("GET", REQUEST + "/history", SELF),
    Row("GET", REQUEST + "/export", SELF),
    Row("POST", REQUEST + "/fulfilment", P.PRIVACY_MANAGE),
    Row("POST", REQUEST + "/rejection", P.PRIVACY_MANAGE),
    Row("POST", REQUEST + "/extension", P.PRIVACY_MANAGE),
    Row("POST", REQUEST + "/verification-code", P.PRIVACY_MANAGE),
    Row("POST", REQUEST + "/restriction-lift", P.PRIVACY_MANAGE),
)
