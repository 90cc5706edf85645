"""HTTP glue shared by all domains."""

# Every domain router declares this prefix itself (rather than being nested under a prefixed
# router) so that the matched route carries its full template for metrics and logs.
API_V1 = "/api/v1"
