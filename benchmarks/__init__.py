"""kcnn benchmarks: run by hand with `python -m benchmarks.run` (see benchmarks/README.md)."""
