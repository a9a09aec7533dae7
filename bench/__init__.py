"""The benchmarks, a package so each runs as `python -m bench.<module>` from the repository root
(`scripts/bench.sh`, `make bench`) and imports its neighbours as `bench.common`, `bench.live`,
`bench.listener`, with no edit of sys.path. They sit above `testing` in the layering."""
