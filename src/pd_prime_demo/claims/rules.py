"""Claims rules without I/O: the status workflow and the checks on money."""
