"""The privacy use cases: data subject requests and consent (``requests``, ``consent``), what is
held about a person and its erasure (``access``, ``erasure``), legal holds and retention."""

from __future__ import annotations
