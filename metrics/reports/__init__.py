"""The report folders: tables (Parquet + CSV), PNG charts and an HTML page, from the counts.

- `make`: `make_report`, the job's entry point (beat, `manage.py make_report`);
- `tables`: the DataFrames, read from the statistics tables (metrics.models);
- `charts`, `index`: the PNGs and index.html drawn from those tables;
- `folders`: a folder written whole, the `latest` pointer, pruning, and reading a table back;
- `transforms`: the pandas computations the charts share with the notebooks.

Nothing is imported here: `folders` and `transforms` import no models, so a notebook kernel can
use them with Django's settings alone, which importing `make` (and with it the models) would
break.
"""
