"""SOC 2 controls as code: each control's test against the real system, its runs and evidence
(chained and append-only), their schedule on the queue, and the auditor's export."""
