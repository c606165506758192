"""Benchmarks of a running Addax, each a module run with `python -m bench.<name>`."""
