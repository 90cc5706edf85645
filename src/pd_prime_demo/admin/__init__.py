"""Administration of the platform's machinery: the job queue's jobs (failed ones, retries)."""
