"""PD Prime: an open, API-first property & casualty insurance core."""

__version__ = "0.1.0"
