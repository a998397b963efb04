"""Time jinit.probe on a 30-hidden-layer, width-256 ReLU MLP with a batch of 256 (CPU).

Prints the compile time and the steady-state run time of the jitted probe, separately, for
one set of parameters (forward and backward statistics) and for 8 seeds vmapped.

    python scripts/bench_probe.py
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp

import jinit
from jinit import diagnostics as P


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    net = jinit.models.MLP([256] * 31 + [10], output="softmax")
    x = jax.random.normal(jax.random.key(1), (256, 256))
    y = jnp.arange(256) % 10
    params = net.init(jax.random.key(0), jinit.he_normal)
    tp = P.tap(net)
    loss = jinit.losses.softmax_cross_entropy
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}, {jax.device_count()} device(s)")

    for label, stacked, p, yy, ll in [
        ("forward stats, 1 net", False, params, None, None),
        ("forward + backward stats, 1 net", False, params, y, loss),
        ("forward + backward stats, 8 seeds vmapped", True,
         P.init_params(net, jinit.he_normal, jinit.keys_from_seeds(list(range(8)))), y, loss),
    ]:  # fmt: skip
        # The jitted core probe() calls, lowered and compiled explicitly (inputs as arguments).
        lowered = P._probe_jit.lower(tp, p, x, yy, loss=ll, activation="relu", stacked=stacked)
        t = time.perf_counter()
        compiled = lowered.compile()
        compile_s = time.perf_counter() - t
        run_s = best_of(lambda compiled=compiled, p=p, yy=yy: compiled(p, x, yy))
        print(f"{label:45s} compile {compile_s:6.2f} s   run {run_s * 1e3:7.1f} ms")

    # The public call end to end (names, dispatch, device_get), after compilation.
    P.probe(net, params, x, y)
    total = best_of(lambda: P.probe(net, params, x, y).stats["std"])
    print(
        f"{'probe(net, params, x, y), warm, end to end':45s}                 {total * 1e3:7.1f} ms"
    )


if __name__ == "__main__":
    main()
