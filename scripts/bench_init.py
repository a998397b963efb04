"""Time jinit's initializers against their jax.nn.initializers counterparts.

Each pair draws the same law (and, for these pairs, the same bits) for a SIZE x SIZE float32
array, jitted; both are compiled first, then timed side by side: in every repeat the two are
run back to back, in alternating order, and the best time over the repeats is reported (the
least disturbed by other load on the machine; the median is printed too). "same HLO" says
whether the two jitted programs lower to the same HLO (names and metadata aside): if so,
any ratio away from 1 is timing noise. GB/s is the
bytes of the output divided by the time, to be read against the machine's memory bandwidth,
measured in the same run (a jitted XLA fill of the same array, and a NumPy copy of 256 MiB).

Also: threefry (JAX's default PRNG) vs 'rbg' for a normal draw, threefry with
jax_threefry_partitionable off vs on, and jinit.draw of 100 seeds vs a Python loop of 100
single draws.

Usage:
    .venv/bin/python scripts/bench_init.py [--size 4096] [--repeats 5] [--ortho-size 1024]
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import platform
import re
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

import jinit

jnn = jax.nn.initializers
P = functools.partial


def _block(x):
    return jax.block_until_ready(x)


def _time_once(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    _block(fn())
    return time.perf_counter() - t0


def time_pair(
    a: Callable, b: Callable, repeats: int, warmup: int = 1
) -> tuple[float, float, float, float]:
    """Best and median seconds of a() and b(), interleaved (a, b, b, a, ...) after warm-up."""
    for _ in range(warmup):
        _block(a())
        _block(b())
    ta, tb = [], []
    for r in range(repeats):
        if r % 2 == 0:
            ta.append(_time_once(a))
            tb.append(_time_once(b))
        else:
            tb.append(_time_once(b))
            ta.append(_time_once(a))
    return min(ta), min(tb), statistics.median(ta), statistics.median(tb)


def time_one(fn: Callable, repeats: int, warmup: int = 1) -> float:
    """Best seconds of fn() over the repeats, after warm-up."""
    for _ in range(warmup):
        _block(fn())
    return min(_time_once(fn) for _ in range(repeats))


def jitted(
    init: Callable, shape: tuple[int, ...], key: jax.Array
) -> tuple[Callable[[], jax.Array], str]:
    """The jitted draw as a thunk, and its lowered HLO with names and metadata stripped."""
    fn = jax.jit(lambda k: init(k, shape, jnp.float32))
    text = fn.lower(key).as_text(dialect="hlo")
    text = re.sub(r"HloModule \S+", "HloModule m", text)
    text = re.sub(r",? ?metadata=\{[^}]*\}", "", text)
    text = re.sub(r",? ?frontend_attributes=\{[^}]*\}", "", text)
    return (lambda: fn(key)), text


def bandwidth(shape: tuple[int, ...], repeats: int) -> tuple[float, float]:
    """GB/s written by a jitted XLA fill of `shape` float32, and by a NumPy 256 MiB copy."""
    fill = jax.jit(lambda x: jnp.full(shape, x, jnp.float32))
    value = jnp.float32(1.5)
    t_fill = time_one(lambda: fill(value), repeats)
    n = 256 * 2**20 // 4
    src = np.ones(n, np.float32)
    dst = np.empty_like(src)
    t_copy = min(_time_once(lambda: np.copyto(dst, src)) for _ in range(repeats + 1))
    return math.prod(shape) * 4 / t_fill / 1e9, src.nbytes / t_copy / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=4096, help="side of the square array")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per pair")
    parser.add_argument(
        "--ortho-size", type=int, default=1024, help="side of the orthogonal matrix (QR)"
    )
    args = parser.parse_args()
    n, reps = args.size, args.repeats
    shape = (n, n)
    ortho = (args.ortho_size, args.ortho_size)
    delta = (3, 3, 512, 512)
    key = jax.random.key(0)

    print(
        f"jax {jax.__version__}, backend {jax.default_backend()}, device {jax.devices()[0]}, "
        f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}"
    )
    print(f"array {n}x{n} float32 ({n * n * 4 / 2**20:.0f} MiB); best of {reps} repeats")
    bw_fill, bw_copy = bandwidth(shape, reps)
    print(
        f"memory bandwidth: XLA fill {bw_fill:.1f} GB/s written; "
        f"NumPy copy of 256 MiB {bw_copy:.1f} GB/s written"
    )
    print()

    pairs = [
        ("xavier_uniform / glorot_uniform", jinit.xavier_uniform, jnn.glorot_uniform(), shape),
        (
            "xavier_normal(trunc) / glorot_normal",
            P(jinit.xavier_normal, distribution="truncated_normal"),
            jnn.glorot_normal(),
            shape,
        ),
        (
            "he_normal(trunc) / he_normal",
            P(jinit.he_normal, distribution="truncated_normal"),
            jnn.he_normal(),
            shape,
        ),
        ("he_uniform / he_uniform", jinit.he_uniform, jnn.he_uniform(), shape),
        (
            "lecun_normal(trunc) / lecun_normal",
            P(jinit.lecun_normal, distribution="truncated_normal"),
            jnn.lecun_normal(),
            shape,
        ),
        ("lecun_uniform / lecun_uniform", jinit.lecun_uniform, jnn.lecun_uniform(), shape),
        ("normal / normal", P(jinit.normal, stddev=0.01), jnn.normal(0.01), shape),
        (
            "truncated_normal / truncated_normal",
            P(jinit.truncated_normal, stddev=0.01),
            jnn.truncated_normal(0.01),
            shape,
        ),
        (
            "variance_scaling(2, fan_avg, normal)",
            P(jinit.variance_scaling, scale=2.0, mode="fan_avg"),
            jnn.variance_scaling(2.0, "fan_avg", "normal"),
            shape,
        ),
        ("orthogonal / orthogonal", jinit.orthogonal, jnn.orthogonal(), ortho),
        ("delta_orthogonal / delta_orthogonal", jinit.delta_orthogonal, jnn.delta_orthogonal(),
         delta),
        ("zeros / zeros", jinit.zeros, jnn.zeros, shape),
    ]  # fmt: skip

    header = f"{'initializer (jinit / jax)':38} {'shape':>15} {'ms jinit':>9} {'ms jax':>9} "
    header += f"{'ratio':>6} {'GB/s jinit':>10} {'GB/s jax':>9} {'median ratio':>12} same HLO"
    print(header)
    print("-" * len(header))
    for label, ours, theirs, shp in pairs:
        (a, hlo_a), (b, hlo_b) = jitted(ours, shp, key), jitted(theirs, shp, key)
        if not np.array_equal(np.asarray(a()), np.asarray(b())):
            label += " (bits differ!)"
        same = "yes" if hlo_a == hlo_b else "NO"
        ta, tb, ma, mb = time_pair(a, b, reps)
        nbytes = math.prod(shp) * 4
        print(
            f"{label:38} {'x'.join(map(str, shp)):>15} {ta * 1e3:9.2f} {tb * 1e3:9.2f} "
            f"{ta / tb:6.3f} {nbytes / ta / 1e9:10.2f} {nbytes / tb / 1e9:9.2f} {ma / mb:12.3f} "
            f"{same:>8}"
        )

    # PRNG implementations, for a normal draw of the same array.
    print()
    normal = jax.jit(lambda k: jax.random.normal(k, shape, jnp.float32))
    k_threefry, k_rbg = jax.random.key(0), jax.random.key(0, impl="rbg")
    t_threefry, t_rbg, *_ = time_pair(lambda: normal(k_threefry), lambda: normal(k_rbg), reps)
    print(
        f"normal {n}x{n}: threefry {t_threefry * 1e3:.2f} ms, rbg {t_rbg * 1e3:.2f} ms, "
        f"threefry/rbg {t_threefry / t_rbg:.2f}"
    )
    if hasattr(jax, "threefry_partitionable"):
        with jax.threefry_partitionable(False):
            normal_off = jax.jit(lambda k: jax.random.normal(k, shape, jnp.float32))
            _block(normal_off(k_threefry))
        with jax.threefry_partitionable(True):
            normal_on = jax.jit(lambda k: jax.random.normal(k, shape, jnp.float32))
            _block(normal_on(k_threefry))

        def run_off():
            with jax.threefry_partitionable(False):
                return normal_off(k_threefry)

        def run_on():
            with jax.threefry_partitionable(True):
                return normal_on(k_threefry)

        t_off, t_on, *_ = time_pair(run_off, run_on, reps)
        print(
            f"normal {n}x{n}, threefry: partitionable=False {t_off * 1e3:.2f} ms, "
            f"partitionable=True {t_on * 1e3:.2f} ms, False/True {t_off / t_on:.2f} "
            f"(default: {jax.config.jax_threefry_partitionable})"
        )
    else:
        print("jax.threefry_partitionable is not available in this JAX")

    # jinit.draw: one compiled, vmapped call for 100 seeds vs a Python loop of single draws.
    seeds, small = 100, (784, 30)
    init = jinit.he_normal
    keys = [jax.random.key(s) for s in range(seeds)]
    single = jax.jit(lambda k: init(k, small, jnp.float32))
    t_draw = time_one(lambda: jinit.draw(init, seeds, small), reps)
    t_loop = time_one(lambda: [init(k, small) for k in keys], reps)
    t_loop_jit = time_one(lambda: [single(k) for k in keys], reps)
    print(
        f"he_normal {seeds} seeds x {small}: jinit.draw {t_draw * 1e3:.2f} ms; "
        f"loop of eager draws {t_loop * 1e3:.2f} ms ({t_loop / t_draw:.1f}x); "
        f"loop of jitted draws {t_loop_jit * 1e3:.2f} ms ({t_loop_jit / t_draw:.1f}x)"
    )


if __name__ == "__main__":
    main()
