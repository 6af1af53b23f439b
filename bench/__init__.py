"""Benchmarks of newsarchive against a floor and grouping baselines on synthetic corpora (`make bench`)."""
