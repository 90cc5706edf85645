"""Bringing a process up: its settings (with the embedded database resolved), migrations and
the demo data. Shared by the CLI and the benchmarks, which start servers of their own."""

from __future__ import annotations

from pd_prime_demo.core.config import Environment, Settings, get_settings
from pd_prime_demo.core.database import resolve_database_url, run_migrations
from pd_prime_demo.core.logging import configure_logging


def settings(*, demo: bool = False) -> Settings:
    """The configured settings (demo mode forced if ``demo``), logging set up, and the
    database URL resolved once so that the embedded server is shared by everything after."""
    configured = get_settings()
    if demo and configured.env is not Environment.DEMO:
        configured = configured.model_copy(update={"env": Environment.DEMO})
    configure_logging(configured.log_level, json=configured.log_json)
    return configured.model_copy(update={"database_url": resolve_database_url(configured)})


def document_problems(settings: Settings) -> list[str]:
    """Why this process must not start issuing documents (empty: nothing). In production the
    documents must name the real insurer (and send checks to its lockbox), never the demo
    carrier's: every carrier setting must be given. An operator's template that does not load
    or draw is found now, instead of failing customers' pages later."""
    if settings.env is Environment.PRODUCTION and (unset := settings.demo_carrier_settings()):
        return [
            "the demo carrier's identity would be on production documents: set "
            f"{', '.join(unset)} (docs/documents.md)"
        ]
    if settings.document_templates_dir is None:
        return []
    from pd_prime_demo.documents import service as documents

    problems = documents.template_problems(settings.document_templates_dir)
    return [f"the document templates have problems: {p}" for p in problems]


def migrate(settings: Settings) -> None:
    assert settings.database_url is not None
    run_migrations(settings.database_url)


async def seed(settings: Settings) -> dict[str, int]:
    """Load the demo data (idempotent); how many of each thing were created."""
    from pd_prime_demo.core.runtime import Runtime
    from pd_prime_demo.seed import seed_demo

    runtime = Runtime.create(settings)
    try:
        async with runtime.db.unit_of_work() as session:
            return await seed_demo(session, runtime)
    finally:
        await runtime.close()
