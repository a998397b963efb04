"""The layout docs/architecture.md promises: layers respected, no import cycle, small functions
and modules."""

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_layers_and_no_import_cycle():
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_layers.py")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout


def test_no_function_over_80_lines_and_no_module_over_800():
    long = []
    for path in sorted((ROOT / "jinit").rglob("*.py")):
        source = path.read_text()
        if len(source.splitlines()) > 800:
            long.append(f"{path.name}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > 80:
                    long.append(f"{path.relative_to(ROOT)}:{node.name}: {n} lines")
    assert not long, long


def test_import_jinit_loads_no_face_and_no_scipy():
    """One fresh ``import jinit`` (one subprocess: ~1.5 s): no experiments, plots, report or
    matplotlib, and no scipy (~0.8 s of the import; jinit.stats and jinit.meanfield load it on
    first use)."""
    code = "import sys, jinit; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    faces = ("jinit.experiments", "jinit.plots", "jinit.report", "matplotlib")
    assert sorted(loaded.intersection(faces)) == []
    assert sorted(m for m in loaded if m.split(".")[0] == "scipy") == []
