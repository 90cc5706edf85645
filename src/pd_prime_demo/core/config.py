"""One Settings class for the whole platform, read through :func:`get_settings`.

Secrets (JWT signing keys, PII encryption keys) have no hard-coded default: in demo mode they are
generated once into the local data directory (and a loud warning says so); in any other
environment they must be configured, or the platform refuses to start.
"""

from __future__ import annotations

import enum
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import (
    AliasChoices,
    Field,
    IPvAnyNetwork,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pd_prime_demo.core.config_audit import AuditSettings
from pd_prime_demo.core.config_compliance import ComplianceSettings
from pd_prime_demo.core.config_documents import DocumentSettings
from pd_prime_demo.core.config_operations import OperationsSettings
from pd_prime_demo.core.config_privacy import PrivacySettings


class Environment(enum.StrEnum):
    DEMO = "demo"
    TEST = "test"
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(
    DocumentSettings,
    OperationsSettings,
    AuditSettings,
    ComplianceSettings,
    PrivacySettings,
    BaseSettings,
):
    model_config = SettingsConfigDict(
        env_prefix="PD_PRIME_", env_file=".env", extra="ignore", frozen=True
    )

    env: Environment = Environment.PRODUCTION
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "PD_PRIME_DATABASE_URL")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "PD_PRIME_REDIS_URL")
    )
    data_dir: Path = Path(".pd-prime")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Connections a process keeps open. Above it, up to ``db_max_overflow`` more are opened for
    # a burst and closed again when returned, so the pool should cover the steady concurrency.
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)

    # JSON object {kid: PEM-encoded EC P-256 private key}; the active kid signs, all verify.
    jwt_keys: Annotated[dict[str, SecretStr], NoDecode] = Field(default_factory=dict)
    jwt_active_kid: str | None = None
    jwt_issuer: str = "pd-prime"
    jwt_audience: str = "pd-prime-api"
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=3600)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=300)

    # JSON object {kid: base64url 256-bit AES key}; the active kid encrypts, all decrypt.
    pii_keys: Annotated[dict[str, SecretStr], NoDecode] = Field(default_factory=dict)
    pii_active_kid: str | None = None

    # argon2id cost (RFC 9106 second recommended option by default).
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    # When the periodic sweeps (quote expiry, renewals, the billing run, earned premium) are
    # deferred, as a cron expression in UTC; default daily at 00:15, every 5 minutes in demo.
    sweeps_cron: str | None = None
    # Items (accounts, quotes, policies, offers) one chunk job of a sweep handles in one
    # transaction: a crash re-does at most this many, and workers share a run by chunks.
    sweep_chunk_size: int = Field(default=500, ge=1, le=10_000)
    # Jobs one worker process runs at once; a job runs in its own transactions.
    worker_concurrency: int = Field(default=4, ge=1, le=64)
    # Webhook deliveries one worker process attempts at once, in a lane of their own.
    webhook_concurrency: int = Field(default=8, ge=1, le=256)
    # Finished jobs are kept this long (their history in the admin view), then deleted.
    jobs_retention_days: int = Field(default=14, ge=1)
    # Run a queue worker and the outbox relay inside the server process (make demo does).
    embedded_worker: bool = False

    # --- The HTTP edge: security headers, CORS, body size, /metrics, demo mode (issue 13) ---
    # Strict-Transport-Security (RFC 6797): how long browsers keep to HTTPS; 0 tells them to
    # forget it. Two years with subdomains is what the HSTS preload list asks for.
    hsts_max_age_seconds: int = Field(default=63_072_000, ge=0)
    hsts_include_subdomains: bool = True
    hsts_preload: bool = False
    # CORS: the exact origins (scheme://host[:port]) whose browser pages may call the API. None
    # by default; "*" lets any page read the public API but never with credentials.
    cors_allow_origins: list[str] = Field(default_factory=list)
    cors_allow_credentials: bool = False
    cors_max_age_seconds: int = Field(default=600, ge=0, le=86_400)
    # Largest request body read, in bytes (413 request.too_large above it, before parsing);
    # the routes under a prefix in max_body_bytes_by_path may take more (the book import).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_body_bytes_by_path: dict[str, int] = Field(
        default_factory=lambda: {"/api/v1/policies/imports": 10 * 1024 * 1024 + 64 * 1024}
    )
    # Bearer token that opens /metrics; without one, /metrics answers 404 on the public app.
    metrics_token: SecretStr | None = None

    @model_validator(mode="after")
    def _cors_origins_exact(self) -> Settings:
        import re

        for origin in self.cors_allow_origins:
            if origin == "*":
                if self.cors_allow_credentials:
                    raise ValueError("cors_allow_origins '*' is never allowed with credentials")
            elif not re.fullmatch(r"https?://[a-z0-9.-]+(:[0-9]{1,5})?", origin):
                raise ValueError(f"cors_allow_origins: {origin!r} is not scheme://host[:port]")
        return self

    # --- Rate limits and trusted proxies (issue 13) ---
    # Counters live in the Redis of redis_url when it is set (shared by every worker process),
    # in this process's memory otherwise; rate_limit_storage_url names a store of their own
    # (redis://, rediss:// or memory://).
    rate_limits_enabled: bool = True
    rate_limit_storage_url: str | None = None
    rate_limit_storage_timeout_seconds: float = Field(default=0.5, gt=0, le=10)
    # One limit each in the limits library's notation ("10/minute", "500 per hour"), counted
    # in a moving window. Route classes: login-type (token, revoke, and the routes that opt in:
    # api/rate_limit.py), realtime (tickets and WebSocket connects), writes and reads. "client"
    # is the client address, "credential" the bearer token, "account" the account a login-type
    # request names, counted per client address (an account alone would let anyone lock its
    # owner out).
    rate_limit_login_per_client: str = "30/minute"
    rate_limit_login_per_account: str = "10/minute"
    rate_limit_realtime_per_client: str = "60/minute"
    rate_limit_write_per_client: str = "600/minute"
    rate_limit_write_per_credential: str = "300/minute"
    rate_limit_read_per_client: str = "2400/minute"
    rate_limit_read_per_credential: str = "1200/minute"
    # Path prefixes of the login-type class (routes may also opt in: api/rate_limit.py), and
    # of routes never limited (probes).
    rate_limit_login_paths: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "/api/v1/auth/token",
            "/api/v1/auth/revoke",
            "/api/v1/oauth/authorize",
            "/api/v1/oauth/token",
            "/api/v1/oauth/revoke",
            "/api/v1/oauth/introspect",
        ]
    )
    rate_limit_exempt_paths: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["/health"]
    )
    # Proxies (CIDRs, comma-separated) whose X-Forwarded-For is believed; none by default.
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(default_factory=list)
    # Refresh token rotation: the token just rotated, presented again this soon (a client's
    # parallel refresh that lost the race), is refused without revoking the login session.
    refresh_reuse_grace_seconds: int = Field(default=10, ge=0, le=60)

    @field_validator(
        "rate_limit_login_paths", "rate_limit_exempt_paths", "trusted_proxies", mode="before"
    )
    @classmethod
    def _rate_limit_lists(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator(
        "rate_limit_login_per_client",
        "rate_limit_login_per_account",
        "rate_limit_realtime_per_client",
        "rate_limit_write_per_client",
        "rate_limit_write_per_credential",
        "rate_limit_read_per_client",
        "rate_limit_read_per_credential",
    )
    @classmethod
    def _rate_limit_notation(cls, value: str) -> str:
        from limits import parse_many

        if len(parse_many(value)) != 1:  # raises ValueError on bad notation
            raise ValueError("one limit, such as 10/minute")
        return value

    # --- MFA, passwords, e-mail and sessions (issue 13) ---
    # Login throttling (NIST SP 800-63B 5.2.2): per account and client address, the first
    # failures are free, then each one makes that pair wait twice as long as the last, up to
    # the cap. Past the account ceiling (failures from all addresses in the window), clients
    # that never logged in to the account wait too; addresses that did are never held up.
    login_free_failures: int = Field(default=5, ge=1)
    login_delay_base_seconds: int = Field(default=2, ge=1)
    login_delay_max_seconds: int = Field(default=900, ge=1)
    login_failure_window_seconds: int = Field(default=24 * 3600, ge=60)
    login_account_ceiling: int = Field(default=100, ge=1)
    login_known_client_days: int = Field(default=90, ge=1)
    # Outgoing e-mail. With no smtp_host, demo and test environments write each message to
    # data_dir/mail/ (and log the path); production refuses to send.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: int = Field(default=20, ge=1)
    mail_from: str = "PD Prime <no-reply@pd-prime.invalid>"
    # Links in e-mails (verification, password reset) point here.
    public_base_url: str = "http://127.0.0.1:8000"
    email_token_ttl_seconds: int = Field(default=24 * 3600, ge=300)
    password_reset_ttl_seconds: int = Field(default=1800, ge=60)
    # MFA: the roles that must use it (default: every staff role); customers may opt in.
    mfa_required_roles: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["agent", "underwriter", "adjuster", "admin"]
    )
    mfa_token_ttl_seconds: int = Field(default=300, ge=30, le=1800)
    mfa_max_failures: int = Field(default=5, ge=1)
    mfa_issuer: str = "PD Prime"
    # WebAuthn relying party: its id (a registrable domain) and the origins it accepts.
    webauthn_rp_id: str = "localhost"
    webauthn_rp_name: str = "PD Prime"
    webauthn_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:8000"]
    )
    # Login sessions: idle (no refresh for this long ends it) and absolute lifetimes.
    session_idle_seconds: int = Field(default=7 * 24 * 3600, ge=300)
    session_absolute_seconds: int = Field(default=30 * 24 * 3600, ge=300)

    @field_validator("mfa_required_roles", "webauthn_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        # From the environment: "agent,admin" (an empty string: none).
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("mfa_required_roles")
    @classmethod
    def _known_roles(cls, value: list[str]) -> list[str]:
        from pd_prime_demo.core.actor import Role

        if unknown := sorted(set(value) - {r.value for r in Role}):
            raise ValueError(f"unknown roles: {', '.join(unknown)}")
        return value

    # --- OAuth 2.1 / OpenID Connect provider and staff SSO (issue 13) ---
    # The provider's issuer identifier (RFC 8414 §2, OIDC Discovery §3): the https URL it is
    # reached at in production. It is the ID tokens' iss and the base of every endpoint the
    # discovery documents name, so it must be the public URL, never taken from a Host header.
    oauth_issuer: str = "http://127.0.0.1:8000"
    # An authorization code lives this long (RFC 6749 §4.1.2 recommends at most 10 minutes).
    oauth_code_ttl_seconds: int = Field(default=60, ge=10, le=600)
    # An OAuth authorization (its login session) ends this long after the user consented,
    # however often its refresh tokens rotate: the absolute lifetime (RFC 9700 §4.14.2).
    oauth_authorization_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=300)
    # How long the browser stays signed in at the authorization page after a password check.
    oauth_sign_in_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    # Signing keys retired from jwt_keys' active kid: {kid: time}. Each is still published in
    # the JWKS and still verifies until then (set it at least the longest token lifetime after
    # it stopped signing); past it the key is neither published nor trusted (docs/oauth.md).
    jwt_key_retire_at: dict[str, datetime] = Field(default_factory=dict)
    # RS256 ID tokens (OpenID Connect Core §15.1: a provider must offer RS256, and a relying
    # party that registers no algorithm expects it): JSON {kid: PEM RSA private key, >= 2048
    # bits, 3072 generated}, the active kid, and retirement times as for jwt_key_retire_at.
    # Without keys, ID tokens are ES256 only and discovery lists only ES256; production should
    # configure one (`pd-prime keys generate`). The RSA keys sign ID tokens and nothing else.
    oidc_rsa_keys: Annotated[dict[str, SecretStr], NoDecode] = Field(default_factory=dict)
    oidc_rsa_active_kid: str | None = None
    oidc_rsa_key_retire_at: dict[str, datetime] = Field(default_factory=dict)

    # Staff single sign-on through an external OpenID Connect provider (docs/oauth.md): its
    # issuer (discovery at <issuer>/.well-known/openid-configuration), this platform's client
    # there, and the role each value of the role claim gives (values not listed sign no one in).
    # Staff are linked by verified e-mail address, created on their first sign-in.
    sso_issuer: str | None = None
    sso_client_id: str | None = None
    sso_client_secret: SecretStr | None = None
    sso_scope: str = "openid email profile"
    sso_role_claim: str = "roles"
    sso_role_map: dict[str, str] = Field(default_factory=dict)

    @field_validator("oidc_rsa_keys", mode="before")
    @classmethod
    def _parse_rsa_keys(cls, value: object) -> object:
        import json

        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    # --- API keys and PII key rotation (issue 13) ---
    # A new API key lives this long unless its owner asks for less; never longer than the max.
    api_key_default_ttl_days: int = Field(default=90, ge=1)
    api_key_max_ttl_days: int = Field(default=365, ge=1)
    # After a rotation the old key keeps working this long (unless asked for less), so that
    # every deployment of an integration can move to the new key.
    api_key_rotation_overlap_hours: int = Field(default=24, ge=0, le=24 * 30)
    # A public showcase: demo accounts may read but every write of theirs is refused (403).
    demo_read_only: bool = False
    # `pd-prime keys rotate`: rows re-encrypted per transaction.
    pii_rotation_batch_size: int = Field(default=500, ge=1, le=10_000)

    # --- Claims (issue 12) ---
    # A photo or document attached to a claim: at most this many bytes (the route's body limit
    # follows it), of a type read from its bytes (not the one the client states).
    claim_attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    claim_attachment_types: tuple[str, ...] = (
        "image/jpeg",
        "image/png",
        "image/heic",
        "image/webp",
        "application/pdf",
    )
    # Attachments one claim may hold.
    claim_attachments_per_claim: int = Field(default=200, ge=1)
    # Fraud indicators (explained, never a decision): a loss this soon after inception or a
    # coverage increase, this many claims on the policy within the window, or a loss this soon
    # before a cancellation.
    fraud_days_after_inception: int = Field(default=30, ge=0)
    fraud_days_after_increase: int = Field(default=30, ge=0)
    fraud_recent_claims: int = Field(default=3, ge=2)
    fraud_recent_claims_days: int = Field(default=365, ge=1)
    fraud_days_before_cancellation: int = Field(default=30, ge=0)

    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="before")
    @classmethod
    def _parse_key_maps(cls, data: object) -> object:
        import json

        if isinstance(data, dict):
            for name in ("jwt_keys", "pii_keys"):
                raw = data.get(name)
                if isinstance(raw, str):
                    data[name] = json.loads(raw) if raw.strip() else {}
        return data

    @property
    def is_demo(self) -> bool:
        return self.env is Environment.DEMO

    @property
    def demo_accounts_allowed(self) -> bool:
        """Where the demo data (accounts with a published password) may be seeded and used,
        and key material generated locally: demo mode and a developer's machine."""
        return self.env in (Environment.DEMO, Environment.DEVELOPMENT)

    @property
    def periodic_cron(self) -> str:
        if self.sweeps_cron:
            return self.sweeps_cron
        return "*/5 * * * *" if self.is_demo else "15 0 * * *"

    @property
    def embedded_database_allowed(self) -> bool:
        return self.env is not Environment.PRODUCTION


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
