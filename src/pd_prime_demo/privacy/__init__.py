"""Privacy (GDPR and CCPA): the data map, the consent ledger, data subject requests, legal holds
and retention schedules."""
