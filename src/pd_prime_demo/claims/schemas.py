"""Claims API models: requests and responses (frozen, unknown fields rejected)."""
