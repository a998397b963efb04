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


def test_import_jinit_loads_no_face():
    code = "import sys, jinit; print(sorted(m for m in ('jinit.experiments', 'jinit.plots', "
    code += "'jinit.report', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
