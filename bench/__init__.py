"""Benchmarks (pytest-benchmark) and the registry of cases they share with the smoke tests."""
