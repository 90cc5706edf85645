"""Change management (AICPA TSC CC8.1): the database runs exactly the schema of the release.

The revision in ``alembic_version`` (a catalogue fact of the database) must equal the head of
the migrations shipped in this package: behind, a change was released without its migration;
ahead or unknown, the database was changed by something that is not this release.
"""

from __future__ import annotations

from importlib import metadata

from pd_prime_demo.compliance.control import Control, ControlContext, Frequency, Outcome
from pd_prime_demo.compliance.controls.evidence import json_evidence
from pd_prime_demo.core.database import current_revision, migration_head


def package_version() -> str:
    try:
        return metadata.version("pd-prime-demo")
    except metadata.PackageNotFoundError:
        return "unknown"


async def check_change(ctx: ControlContext, *, release_head: str | None) -> Outcome:
    applied = await current_revision(ctx.session)
    version = package_version()
    evidence = (
        json_evidence(
            "release.json",
            {"package_version": version, "migration_head": release_head, "applied": applied},
        ),
    )
    figures = {"package_version": version, "applied": applied, "head": release_head}
    if release_head is None:
        reason = "the release ships no migrations to compare with"
        return Outcome(False, reason, ctx.now, ctx.now, evidence, figures)
    if applied != release_head:
        reason = (
            f"the database is at migration {applied or 'none'}, release {version} expects "
            f"{release_head}: a schema change outside the release process, or one not applied"
        )
        return Outcome(False, reason, ctx.now, ctx.now, evidence, figures)
    reason = f"the database is at migration {applied}, the head of release {version}"
    return Outcome(True, reason, ctx.now, ctx.now, evidence, figures)


async def change_management(ctx: ControlContext) -> Outcome:
    return await check_change(ctx, release_head=migration_head())


CHANGE_MANAGEMENT = Control(
    id="CC8.1-change-management",
    criteria=("CC8.1",),
    title="The database runs the release's migrations",
    description=(
        "The migration revision applied to the database (alembic_version) equals the head of "
        "the migrations shipped with the package version that runs."
    ),
    frequency=Frequency.DAILY,
    test=change_management,
)
