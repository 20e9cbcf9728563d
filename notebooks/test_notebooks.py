"""Every notebook run top to bottom with tiny training (GAN_ZOO_SMOKE=1), as CI does after the tests:

    python -m pytest -q -n 2 notebooks

A cell that raises fails its notebook's test, naming the cell. Each notebook runs in its own temporary
folder (its runs/ go there), with GAN_ZOO_REPO pointing at this checkout for the test fixtures.
"""

import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

HERE = pathlib.Path(__file__).parent
NOTEBOOKS = sorted(HERE.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_ZOO_SMOKE", "1")
    monkeypatch.setenv("GAN_ZOO_REPO", str(HERE.parent))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells), "outputs are stripped in the repo"
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = [o for cell in notebook.cells for o in cell.get("outputs", [])
             if "image/png" in o.get("data", {})]
    assert shown, "the sample grids and results are shown inline"
