"""The settings of the audit trail's anchoring, partitioning and retention (issue 16).
Part of :class:`~pd_prime_demo.core.config.Settings` (a base class of it)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr


class AuditSettings(BaseModel):
    # --- Signed checkpoints of the audit chain (audit.checkpoints) ---
    # The Ed25519 private key that signs checkpoints (PEM), or a file holding it. It must not
    # be readable by the database: a superuser who can rewrite audit_log cannot forge a
    # checkpoint. In demo and development one is generated into data_dir/secrets once;
    # production refuses to start without one.
    audit_checkpoint_key: SecretStr | None = None
    audit_checkpoint_key_file: Path | None = None
    # Public keys (PEM) of retired checkpoint keys: checkpoints they signed still verify.
    audit_checkpoint_public_keys: list[str] = Field(default_factory=list)
    # Where checkpoints are written: a directory (relative paths are under data_dir), one
    # JSON file per checkpoint, never rewritten. Point it at storage the database host cannot
    # write (a mounted object store, another machine's share).
    audit_checkpoint_dir: Path = Path("audit-checkpoints")
    # Optionally POST each checkpoint to this URL as well (a witness outside the platform),
    # signed as a Standard Webhook with audit_checkpoint_webhook_secret.
    audit_checkpoint_webhook_url: str | None = None
    audit_checkpoint_webhook_secret: SecretStr | None = None
    # How often the worker writes a checkpoint (cron), and every how many entries it keeps an
    # anchor (an entry's id and hash) so that a rewrite is located to within that many entries.
    audit_checkpoint_cron: str = "*/10 * * * *"
    audit_checkpoint_anchor_every: int = Field(default=1000, ge=1, le=1_000_000)

    # --- Partitions and retention of audit_log (audit.partitions) ---
    # audit_log is partitioned by month of occurred_at; the worker keeps this many months of
    # partitions created ahead.
    audit_partition_months_ahead: int = Field(default=3, ge=1, le=24)
    # Processes that walk the chain at once when verifying (audit.verify.walk_chain): hashing
    # is CPU-bound, so more than the database host's and this host's free cores buys nothing.
    audit_verify_parallel: int = Field(default=1, ge=1, le=64)
    # Audit entries are kept this many years (seven: the longest of the financial-record
    # duties an insurer has), then whole monthly partitions are dropped, each after a signed
    # retention checkpoint that lets the rest of the chain verify without them.
    audit_retention_years: int = Field(default=7, ge=1, le=100)
