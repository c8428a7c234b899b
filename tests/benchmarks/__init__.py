"""Benchmarks, run as ``python -m tests.benchmarks <suite>``; not collected by pytest.
Each suite compares side by side, in one run, against its natural baseline, prints a table
and writes JSON under tests/benchmarks/results/."""
