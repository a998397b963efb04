"""Every notebook in notebooks/ is stored without outputs and runs top to bottom.

The notebooks run at their small sizes (``JINIT_NOTEBOOK_SMALL=1``), in a kernel started from
this interpreter (a kernelspec written for the test, so a user-level "python3" kernelspec
cannot substitute another Python), with a temporary directory as working directory and
``TMPDIR``, so that nothing they write lands in the repository.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
kernelspec = pytest.importorskip("ipykernel.kernelspec")
pytest.importorskip("matplotlib")

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 600
KERNEL_NAME = "jinit-notebook-test"
SENTINEL = "jinit-notebook-test: sys.executable = "


def _ids(path: Path) -> str:
    return path.name


def test_notebooks_are_found():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"{path.name}: code cell {i} has stored outputs"
        assert cell.execution_count is None, f"{path.name}: code cell {i} has an execution count"


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=pytest.mark.slow) if p.name.startswith("02_") else p for p in NOTEBOOKS],
    ids=_ids,
)
def test_runs(path, tmp_path, monkeypatch):
    kernelspec.write_kernel_spec(tmp_path / "jupyter" / "kernels" / KERNEL_NAME)
    work, tmp = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    tmp.mkdir()
    # The kernel inherits this environment.
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JINIT_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TMPDIR", str(tmp))

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(f"import sys\nprint({SENTINEL!r} + sys.executable)"))
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(work)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, if a cell fails

    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    assert printed.strip() == SENTINEL + sys.executable, "the kernel ran another Python"
