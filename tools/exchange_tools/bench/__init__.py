"""Benchmarks, one module per subject (ingest, lookup, transform): ratios measured in one run on
scratch databases of the exchange's own server (scratch.py), never timed tests."""
