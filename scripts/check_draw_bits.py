"""The bits of every law's draws: the same in this tree as in another checkout, and the same
jitted as eager.

For a change to the laws, the sampling or the keys that must not change any weight: every
law of ``jinit.registry.available()`` (defaults) and a set of non-default options, in
float32, bfloat16, float16 and float64 (x64 on), on odd and round shapes, drawn for 1, 30
and 257 keys, eagerly vmapped (as a sweep draws) and under ``jax.jit``; plus the initial
parameters of the headline sweep's runs (``jinit compare``'s six inits x 100 seeds, the
circles MLP and a 30-layer net, keys ``jinit.keys.run_keys``). Each tree runs in a fresh
process and prints a hash per case; this script compares them::

    PYTHONPATH=. python scripts/check_draw_bits.py --against /tmp/old

It prints the number of cases, those whose eager draws differ between the trees, and those
whose jitted draw differs from the eager one in each tree; it exits 1 where the trees differ.
It takes about 17 minutes on 2 cores; ``--quick`` draws float32 only, on the shapes of
:data:`QUICK_SHAPES`, for 30 keys (the sweep's nets unchanged): 42 s.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHAPES = [(5, 1), (1,), (7,), (3, 7), (10, 2), (64, 64), (33, 17), (3, 3, 4, 8), (100, 300)]
KEY_COUNTS = (1, 30, 257)
QUICK_SHAPES = [(5, 1), (3, 7), (33, 17)]  # --quick: float32, 30 keys
NETS = {"headline": [2, 10, 5, 1], "30 layers": [2] + [16] * 30 + [1]}


def _laws() -> dict:
    import jinit

    p = functools.partial
    laws = {name: jinit.registry.get(name) for name in jinit.registry.available()}
    laws |= {"normal(0.37, mean 0.5)": p(jinit.normal, stddev=0.37, mean=0.5),
             "truncated_normal(0.3, -1, 1.5)": p(jinit.truncated_normal, stddev=0.3, lower=-1.0,
                                                 upper=1.5),
             "uniform(0.12)": p(jinit.uniform, scale=0.12)}  # fmt: skip
    for dist in ("normal", "truncated_normal", "uniform"):
        for mode in ("fan_in", "fan_out", "fan_avg"):
            laws[f"variance_scaling(2.5, {mode}, {dist})"] = p(
                jinit.variance_scaling, scale=2.5, mode=mode, distribution=dist)  # fmt: skip
    return laws


def _hash(tree) -> str:
    import jax
    import numpy as np

    h = hashlib.sha1()
    for leaf in jax.tree_util.tree_leaves(tree):
        h.update(np.asarray(leaf).tobytes())
    return h.hexdigest()[:16]


def grid(quick: bool) -> tuple[list, list, tuple]:
    """The dtypes (names), shapes and key counts drawn."""
    if quick:
        return ["float32"], QUICK_SHAPES, (30,)
    return ["float32", "bfloat16", "float16", "float64"], SHAPES, KEY_COUNTS


def child(quick: bool = False) -> dict[str, str]:
    """Hashes of every case in this process's jinit."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    jax.config.update("jax_enable_x64", True)
    import jinit
    from jinit.experiments.coursera import SWEEP_INITS

    out = {}
    for name, law in _laws().items():
        dtypes, shapes, key_counts = grid(quick)
        for dtype in map(jnp.dtype, dtypes):
            for shape, n in ((s, n) for s in shapes for n in key_counts):
                keys = jax.random.split(jax.random.key(n), n)

                def draw(k, law=law, shape=shape, dtype=dtype):
                    return law(k, shape, dtype)

                try:
                    eager = jax.vmap(draw)(keys)
                except (ValueError, TypeError):  # a law that refuses the shape or dtype
                    continue
                case = f"{name} {jnp.dtype(dtype).name} {shape} x{n}"
                out[case] = _hash(eager)
                if n != 1:
                    out[case + " jit"] = _hash(jax.jit(jax.vmap(draw))(keys))
    for net, dims in NETS.items():
        model = jinit.models.MLP(dims)
        for init, law in SWEEP_INITS.items():
            keys = jinit.keys.run_keys(np.arange(100), init)
            drawn = jax.vmap(lambda k, m=model, w=law: m.init(k, w))(keys)
            out[f"{net} sweep {init}"] = _hash(drawn)
    return out


def in_fresh_process(tree: pathlib.Path, quick: bool = False) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, __file__, "--child"] + (["--quick"] if quick else [])
    done = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def jit_differs(hashes: dict[str, str]) -> list[str]:
    return [c[:-4] for c in hashes if c.endswith(" jit") and hashes[c] != hashes[c[:-4]]]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--against", type=pathlib.Path, default=None,
                   help="a checkout of another commit (eager draws must match)")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="float32, 3 shapes, 30 keys only")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.quick)))
        return 0
    trees = {"this tree": ROOT}
    if args.against is not None:
        if not (args.against / "jinit" / "__init__.py").is_file():
            p.error(f"--against must be a jinit checkout, got {args.against} (no jinit/)")
        trees["other"] = args.against.resolve()
    got = {label: in_fresh_process(tree, args.quick) for label, tree in trees.items()}
    this = got["this tree"]
    eager = [c for c in this if not c.endswith(" jit")]
    print(f"{len(eager)} eager cases, {len(this) - len(eager)} jitted ones")
    for label, hashes in got.items():
        bad = jit_differs(hashes)
        print(f"{label}: jitted != eager in {len(bad)} cases" + (f": {bad[:8]}" if bad else ""))
    if "other" not in got:
        return 0
    other = got["other"]
    differ = [c for c in eager if c in other and other[c] != this[c]]
    both = sum(c in other for c in eager)
    named = f": {differ[:8]}" if differ else ""
    print(f"eager draws that differ between the trees: {len(differ)} of {both} in both{named}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
