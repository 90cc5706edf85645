"""Browser tests: the app served for real (uvicorn, on a committed scratch database) and
Debian's Chromium driven by Playwright. Playwright's own browser downloads are never used:
the browser is ``/usr/bin/chromium`` (``apt-get install chromium``), and the tests skip, saying
so, where it is not installed; CI installs it (``.ci/run``) and must not skip them."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from pd_prime_demo.bench.api import free_port
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app

CHROMIUM = os.environ.get("PD_PRIME_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("PD_PRIME_UI_SHOTS", "/tmp/ui-shots"))  # noqa: S108 (looked at by people)
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
START = 20.0  # seconds a starved machine may take to start the server


def chromium() -> str:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        if os.environ.get("PD_PRIME_REQUIRE_BROWSER") == "1":  # CI (.ci/run): never skip
            pytest.fail(f"no Chromium at {CHROMIUM}, and PD_PRIME_REQUIRE_BROWSER=1")
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install Debian's (apt-get install -y chromium) to run "
            "the browser tests; CI installs it and must not skip them"
        )
    return CHROMIUM


@dataclass(frozen=True)
class Served:
    url: str
    runtime: Runtime


@pytest.fixture
async def served(committed_runtime: Runtime) -> AsyncIterator[Served]:
    """The whole app on a free port of the loopback interface, in this test's event loop."""
    chromium()
    app = create_app(runtime=committed_runtime)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(START):
            while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
                await asyncio.sleep(0.05)
        # localhost: a secure context for Chromium, where the console's Secure cookies work.
        yield Served(f"http://localhost:{port}", committed_runtime)
    finally:
        server.should_exit = True
        await serving
