"""The computations behind the analysis notebooks, as plain functions on the report tables.

The notebooks only load, call these and draw, so every number they print is unit-tested here:

- `reading`: which report, its manifest and tables, the range analysed;
- `activity`, `engagement`, `task_health`: one module per notebook, each ending with the
  notebook's `summary` (the figures it prints as JSON) and `conclusion` (its closing prose);
- `live`: the optional client of the platform's /api/stats/ (activity notebook);
- `formatting`: numbers for JSON, plural nouns, the JSON line the tests read.

Nothing here needs a database or Django's app registry (only its settings, for REPORTS_DIR):
it reads a report folder written by the metrics job (layout: docs/metrics.md), so an analyst
can open the notebooks on a copied report folder anywhere.

Time conventions: every timestamp is turned into a timezone-aware UTC `pandas.Timestamp`; a day
is the UTC midnight that starts it; ranges are half-open, `[start, end)`.
"""
