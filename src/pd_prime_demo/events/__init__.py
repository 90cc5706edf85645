"""Events: the outbox relay into the job queue, the pull stream and the catalogue of types."""
