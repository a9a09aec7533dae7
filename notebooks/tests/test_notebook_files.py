"""The committed notebooks: cleared outputs, a question first, papermill parameters, a summary."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from notebooks.render import notebook_paths

EXPECTED = {"activity", "engagement", "task_health"}


def test_the_three_notebooks_are_there() -> None:
    assert {path.stem for path in notebook_paths()} == EXPECTED


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_notebook_is_committed_clean_and_shaped_for_papermill(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    # Outputs cleared: a diff shows code, not base64 images; no stale numbers are committed.
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "**Question.**" in first.source
    params = [cell for cell in code if "parameters" in cell.metadata.get("tags", [])]
    assert len(params) == 1
    names = {node.target.id for node in ast.parse(params[0].source).body}
    assert {"report_dir", "start", "end"} <= names
    assert "summary" in code[-1].metadata.get("tags", [])
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in code:  # every cell is valid IPython (Python plus %magics)
        ast.parse(TransformerManager().transform_cell(cell.source))
