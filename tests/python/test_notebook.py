"""examples/notebook.ipynb executed as Jupyter would (Debian's nbclient and ipykernel),
against a real master and a real worker, so that it cannot rot: every cell runs without
an error, tune() finds a good softmax regression, the master's search succeeds with a
progress bar, and both plots are drawn."""

import os
import sys

import nbclient
import nbformat

from conftest import MINIMAL, SOURCE, TOKEN

NOTEBOOK = os.path.join(SOURCE, "examples", "notebook.ipynb")


def test_the_notebook_runs_against_a_master_and_a_worker(master, monkeypatch):
    master.worker("w1", f"toy@1={sys.executable} {MINIMAL}")
    monkeypatch.setenv("DEEPEVOLVE_MASTER", master.address)
    monkeypatch.setenv("DEEPEVOLVE_TOKEN", TOKEN)
    monkeypatch.setenv("DEEPEVOLVE_INSECURE", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        assert not cell.get("outputs"), "the committed notebook carries no outputs"
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)
    # tune()'s best: (genes, accuracy) on its task, well above chance (1/3).
    best = next(o for o in outputs if o.output_type == "execute_result" and "learning_rate" in
                o.data.get("text/plain", "") and o.data["text/plain"].startswith("({"))
    assert float(best.data["text/plain"].rsplit(",", 1)[1].strip(" )")) > 0.8
    assert f"master at {master.address}" in text
    assert "search 1: SUCCEEDED, 12 genomes" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2, "the scatter and the leaderboard plots"
    assert "genome" in text  # the progress bar's unit
