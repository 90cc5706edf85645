"""The control catalogue: every SOC 2 control as code (``CONTROLS``)."""

from __future__ import annotations
