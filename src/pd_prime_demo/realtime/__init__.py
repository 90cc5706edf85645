"""Live updates: the events a user may see, pushed over a WebSocket as they are published."""
