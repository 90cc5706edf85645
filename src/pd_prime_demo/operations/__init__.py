"""Operations: the platform's own health: integrity checks run by the worker, the figures
read from the database for metrics, backups and their restore checks."""
