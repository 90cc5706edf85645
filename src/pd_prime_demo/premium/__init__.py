"""Premium arithmetic shared by policies and billing: calendar terms, proration, earning and
the cancellation methods.

Pure functions on ``Decimal`` (no I/O), like the rating engine: policies use them to price a
change and billing to recognise what is earned, so both apply one rule. Money is rounded
half-up to the cent at each stated step.
"""
