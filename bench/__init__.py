"""Benchmarks: each script compares embtable with a reference side by side in one process."""
