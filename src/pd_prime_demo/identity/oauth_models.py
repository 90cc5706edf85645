"""The OAuth 2.1 / OpenID Connect provider's authorization codes and token log."""

from __future__ import annotations
