"""Claims: first notice of loss to closure, reserves and payments on the ledger, loss reserving."""
