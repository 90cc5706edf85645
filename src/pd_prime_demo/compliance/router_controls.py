"""Compliance routes (see ``compliance.router``)."""

from __future__ import annotations

from fastapi import APIRouter

from pd_prime_demo.api import API_V1

router = APIRouter(prefix=f"{API_V1}/compliance", tags=["compliance"])
