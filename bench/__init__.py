"""Benchmarks run by `make bench`: each prints its numbers and its in-run baseline."""
