"""The auditor's archive: how a period's runs, their evidence, the samples and the chain's
verification are laid out in one zip, with a manifest of every file's SHA-256 and size.

Layout (``FORMAT``)::

    manifest.json            the period, the sampling seed and method, the chain, every file
    runs.jsonl  runs.csv     every run of every control that started in the period
    samples.json             per control: its population in the period and the sample drawn
    verification.json        the run chain's verification at export time
    evidence/<run id>/<name> every artefact of those runs, as stored

The archive is written entry by entry into a file (never held whole in memory); the manifest
comes last, as it lists the hashes of everything before it.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO, Any

from pd_prime_demo.compliance.control import Frequency
from pd_prime_demo.compliance.models import ControlRun
from pd_prime_demo.compliance.rules import SAMPLING_METHOD, draw_sample

FORMAT = "pd-prime-soc2-export/1"
MANIFEST = "manifest.json"
RUNS_JSONL = "runs.jsonl"
RUNS_CSV = "runs.csv"
SAMPLES = "samples.json"
VERIFICATION = "verification.json"

CSV_COLUMNS = (
    "id",
    "control_id",
    "criteria",
    "frequency",
    "started_at",
    "finished_at",
    "covers_from",
    "covers_to",
    "passed",
    "reason",
    "figures",
    "evidence",
    "prev_hash",
    "hash",
)


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def run_record(run: ControlRun) -> dict[str, Any]:
    """A run as the archive (and the API) gives it: everything its hash covers, and the hash."""
    return {
        "id": run.id,
        "control_id": run.control_id,
        "criteria": list(run.criteria),
        "frequency": run.frequency,
        "started_at": _instant(run.started_at),
        "finished_at": _instant(run.finished_at),
        "covers_from": _instant(run.covers_from),
        "covers_to": _instant(run.covers_to),
        "passed": run.passed,
        "reason": run.reason,
        "figures": run.figures,
        "evidence": list(run.evidence),
        "prev_hash": run.prev_hash,
        "hash": run.hash,
    }


def csv_row(run: ControlRun) -> list[str]:
    record = run_record(run)
    record["criteria"] = " ".join(record["criteria"])
    record["figures"] = json.dumps(record["figures"], sort_keys=True)
    record["evidence"] = " ".join(item["name"] for item in record["evidence"])
    record["passed"] = "true" if record["passed"] else "false"
    return [str(record[column]) for column in CSV_COLUMNS]


def evidence_path(run_id: int, name: str) -> str:
    return f"evidence/{run_id}/{name}"


def sample_size(frequency: str, sizes: dict[Frequency, int]) -> int | None:
    """How many of a control's runs the auditor samples; None: all (quarterly, annual)."""
    return sizes.get(Frequency(frequency))


@dataclass(slots=True)
class Population:
    """One control's runs in the period, as (id, hash) pairs, for its sample."""

    control_id: str
    frequency: str
    runs: list[tuple[int, str]] = field(default_factory=list)


def samples_document(
    populations: Iterable[Population], *, seed: str, sizes: dict[Frequency, int]
) -> dict[str, Any]:
    controls = []
    for population in sorted(populations, key=lambda p: p.control_id):
        size = sample_size(population.frequency, sizes)
        controls.append(
            {
                "control_id": population.control_id,
                "frequency": population.frequency,
                "sample_size": size if size is not None else "all",
                "population": sorted(run_id for run_id, _ in population.runs),
                "sample": draw_sample(seed, population.runs, size),
            }
        )
    return {"seed": seed, "method": SAMPLING_METHOD, "controls": controls}


class Archive:
    """A zip being written, each entry hashed as it is written."""

    def __init__(self, file: IO[bytes]) -> None:
        self._zip = zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED)
        self.files: list[dict[str, Any]] = []

    @contextlib.contextmanager
    def entry(self, name: str) -> Iterator[Callable[[bytes], None]]:
        """Write one file of the archive chunk by chunk (``write(chunk)``), hashing as it goes."""
        digest, size = hashlib.sha256(), 0
        with self._zip.open(name, "w", force_zip64=True) as handle:

            def write(chunk: bytes) -> None:
                nonlocal size
                digest.update(chunk)
                size += len(chunk)
                handle.write(chunk)

            yield write
        self.files.append({"name": name, "sha256": digest.hexdigest(), "size": size})

    def add(self, name: str, content: bytes) -> None:
        with self.entry(name) as write:
            write(content)

    def add_json(self, name: str, document: Any) -> None:
        self.add(name, json_bytes(document))

    def close(self, manifest: dict[str, Any]) -> None:
        self._zip.writestr(MANIFEST, json_bytes({**manifest, "files": self.files}))
        self._zip.close()


def json_bytes(document: Any) -> bytes:
    return (json.dumps(document, sort_keys=True, indent=2) + "\n").encode("utf-8")


def jsonl_line(run: ControlRun) -> bytes:
    return (json.dumps(run_record(run), sort_keys=True) + "\n").encode("utf-8")


def csv_bytes(rows: Iterable[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def manifest_document(
    *,
    start: date,
    end: date,
    generated_at: datetime,
    seed: str,
    sizes: dict[Frequency, int],
    runs: int,
    chain: dict[str, Any],
    seed_source: dict[str, str],
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "period": {"from": start.isoformat(), "to": end.isoformat(), "time_zone": "UTC"},
        "selection": "every run whose started_at falls on a day from 'from' to 'to' inclusive",
        "generated_at": _instant(generated_at),
        "runs": runs,
        "sampling": {
            "seed": seed,
            # {"supplied_by": <actor id>} or {"drawn_by": "server"}: an auditor supplies their own.
            "seed_source": seed_source,
            "method": SAMPLING_METHOD,
            "sizes": {
                **{frequency.value: n for frequency, n in sizes.items()},
                Frequency.QUARTERLY.value: "all",
                Frequency.ANNUALLY.value: "all",
            },
        },
        "chain": chain,
    }
