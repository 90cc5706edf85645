"""Webhooks: API clients subscribe to events and receive them signed (Standard Webhooks)."""
