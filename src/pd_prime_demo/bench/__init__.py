"""The benchmarks behind ``pd-prime bench ...``: figures and ratios measured in one run."""
