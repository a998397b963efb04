"""Every initializer in jinit.laws against an independent source.

- Random laws: a Kolmogorov-Smirnov test against the exact scipy.stats law, whose scale is
  computed in this file from the shape (fans written out as products of dimensions), plus
  the sample variance; for dense and conv shapes. Fixed keys, p-value threshold 1e-3.
- Orthogonal laws: Q^T Q = gain^2 I, and Haar-ness from the Beta law of an entry and
  E[(tr Q)^2] = 1 (Diaconis & Shahshahani).
- Deterministic laws: NumPy re-implementations (np.eye, PyTorch's dirac_).
- Bits: equal to jax.nn.initializers for the same key, under jit, and under vmap.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import jinit

jnn = jax.nn.initializers

KEY = jax.random.key(20240601)
DENSE = (500, 400)  # 200,000 entries
CONV = (3, 3, 96, 128)  # 110,592 entries, HWIO
SMALL = (30, 40)
SMALL_CONV = (3, 3, 8, 16)
DETERMINISTIC = {"zeros", "ones", "constant", "identity", "dirac"}
P_MIN = 1e-3
X64_AT_IMPORT = jax.config.jax_enable_x64
# Standard deviation of N(0, 1) truncated to [-2, 2], from scipy, not from jinit.
TRUNC_STD = float(stats.truncnorm(-2, 2).std())


def ref_fans(shape):
    """(fan_in, fan_out) of a (*spatial, in, out) kernel, written out."""
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def denominator(mode, shape):
    fan_in, fan_out = ref_fans(shape)
    return {
        "fan_in": fan_in,
        "fan_out": fan_out,
        "fan_avg": (fan_in + fan_out) / 2,
        "fan_geo_avg": math.sqrt(fan_in * fan_out),
    }[mode]


def normal_law(var):
    return stats.norm(0, math.sqrt(var))


def trunc_law(var):
    # Truncated at 2 sd of the underlying normal, rescaled so the variance is `var`.
    return stats.truncnorm(-2, 2, scale=math.sqrt(var) / TRUNC_STD)


def uniform_law(var):
    bound = math.sqrt(3 * var)
    return stats.uniform(-bound, 2 * bound)


def scaled_law(distribution, var):
    return {"normal": normal_law, "truncated_normal": trunc_law, "uniform": uniform_law}[
        distribution
    ](var)


def assert_ks(sample, dist, p_min=P_MIN):
    x = np.asarray(sample, dtype=np.float64).ravel()
    res = stats.kstest(x, dist.cdf)
    assert res.pvalue > p_min, (
        f"KS rejects {dist.dist.name}{dist.args}{dist.kwds}: D={res.statistic:.3g}, "
        f"p={res.pvalue:.3g}, n={x.size}"
    )


def assert_variance(sample, var, rel=0.02):
    x = np.asarray(sample, dtype=np.float64).ravel()
    assert abs(x.mean()) < 6 * math.sqrt(var / x.size) + 1e-12
    assert x.var() == pytest.approx(var, rel=rel)


def assert_bits_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


# --------------------------------------------------------------------------- KS per law

P = functools.partial


def vs(**kw):
    return P(jinit.variance_scaling, **kw)


# (id, initializer, law(shape) -> frozen scipy distribution)
LAWS = [
    ("normal", jinit.normal, lambda s: stats.norm(0, 0.01)),
    ("normal_stddev10_mean", P(jinit.normal, stddev=10.0, mean=3.0), lambda s: stats.norm(3, 10)),
    ("uniform", jinit.uniform, lambda s: stats.uniform(-0.05, 0.1)),
    ("uniform_0.12", P(jinit.uniform, scale=0.12), lambda s: stats.uniform(-0.12, 0.24)),
    ("truncated_normal", jinit.truncated_normal, lambda s: stats.truncnorm(-2, 2)),
    (
        "truncated_normal_asym",
        P(jinit.truncated_normal, stddev=0.3, lower=-1.0, upper=2.5),
        lambda s: stats.truncnorm(-1, 2.5, scale=0.3),
    ),
    *[
        (
            f"variance_scaling_{mode}_{dist}",
            vs(scale=1.7, mode=mode, distribution=dist),
            lambda s, mode=mode, dist=dist: scaled_law(dist, 1.7 / denominator(mode, s)),
        )
        for mode in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
        for dist in ("normal", "truncated_normal", "uniform")
    ],
    ("lecun_normal", jinit.lecun_normal, lambda s: normal_law(1 / ref_fans(s)[0])),
    (
        "lecun_normal_trunc",
        P(jinit.lecun_normal, distribution="truncated_normal"),
        lambda s: trunc_law(1 / ref_fans(s)[0]),
    ),
    ("lecun_uniform", jinit.lecun_uniform, lambda s: uniform_law(1 / ref_fans(s)[0])),
    ("xavier_normal", jinit.xavier_normal, lambda s: normal_law(2 / sum(ref_fans(s)))),
    (
        "glorot_normal_gain_trunc",
        P(jinit.glorot_normal, gain=5 / 3, distribution="truncated_normal"),
        lambda s: trunc_law((5 / 3) ** 2 * 2 / sum(ref_fans(s))),
    ),
    ("xavier_uniform", jinit.xavier_uniform, lambda s: uniform_law(2 / sum(ref_fans(s)))),
    (
        "glorot_uniform_gain",
        P(jinit.glorot_uniform, gain=math.sqrt(2)),
        # Glorot & Bengio eq. 16 scaled: bound = gain * sqrt(6 / (fan_in + fan_out))
        lambda s: stats.uniform(
            -math.sqrt(2) * math.sqrt(6 / sum(ref_fans(s))),
            2 * math.sqrt(2) * math.sqrt(6 / sum(ref_fans(s))),
        ),
    ),
    ("he_normal", jinit.he_normal, lambda s: normal_law(2 / ref_fans(s)[0])),
    (
        "he_normal_trunc",
        P(jinit.he_normal, distribution="truncated_normal"),
        lambda s: trunc_law(2 / ref_fans(s)[0]),
    ),
    (
        "kaiming_normal_slope_fan_out",
        P(jinit.kaiming_normal, negative_slope=0.2, mode="fan_out"),
        lambda s: normal_law(2 / (1 + 0.2**2) / ref_fans(s)[1]),
    ),
    ("he_uniform", jinit.he_uniform, lambda s: uniform_law(2 / ref_fans(s)[0])),
    (
        "kaiming_uniform_sqrt5",
        P(jinit.kaiming_uniform, negative_slope=math.sqrt(5)),
        # PyTorch's default: kaiming_uniform_(a=sqrt(5)) is U(+-1/sqrt(fan_in))
        lambda s: stats.uniform(-1 / math.sqrt(ref_fans(s)[0]), 2 / math.sqrt(ref_fans(s)[0])),
    ),
    (
        "he_uniform_fan_out",
        P(jinit.he_uniform, mode="fan_out"),
        lambda s: uniform_law(2 / ref_fans(s)[1]),
    ),
    (
        "torch_default",
        jinit.torch_default,
        lambda s: stats.uniform(-1 / math.sqrt(ref_fans(s)[0]), 2 / math.sqrt(ref_fans(s)[0])),
    ),
]


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize(("name", "init", "law"), LAWS, ids=[c[0] for c in LAWS])
def test_ks_and_variance(name, init, law, shape):
    w = init(KEY, shape)
    assert w.shape == shape and w.dtype == jnp.float32
    dist = law(shape)
    assert_ks(w, dist)
    assert_variance(w - dist.mean(), dist.var())


def test_pytorch_layout():
    # PyTorch keeps conv weights as (out, in, kh, kw): fan_in = in * kh * kw.
    shape = (128, 96, 3, 3)
    bound = 1 / math.sqrt(96 * 9)
    w = jinit.torch_default(KEY, shape, in_axis=1, out_axis=0)
    assert_ks(w, stats.uniform(-bound, 2 * bound))
    w = jinit.he_normal(KEY, shape, in_axis=1, out_axis=0, mode="fan_out")
    assert_ks(w, normal_law(2 / (128 * 9)))
    # Course layout (out, in).
    w = jinit.xavier_uniform(KEY, (400, 500), in_axis=-1, out_axis=-2)
    assert_ks(w, uniform_law(2 / 900))
    # A stack of 4 dense kernels: batch axis ignored.
    w = jinit.lecun_normal(KEY, (4, 250, 200), batch_axis=0)
    assert_ks(w, normal_law(1 / 250))


def test_torch_default_bias():
    w = jinit.torch_default_bias(KEY, (200_000,), fan_in=576)
    assert_ks(w, stats.uniform(-1 / 24, 2 / 24))


@pytest.mark.parametrize(
    ("init", "wrong_law"),
    [
        # same variance, wrong shape of law
        (jinit.he_normal, lambda s: trunc_law(2 / ref_fans(s)[0])),
        (P(jinit.he_normal, distribution="truncated_normal"), lambda s: normal_law(2 / 576)),
        (jinit.he_uniform, lambda s: normal_law(2 / ref_fans(s)[0])),
        # right shape of law, standard deviation off by 2%
        (jinit.lecun_normal, lambda s: normal_law(1.04 / ref_fans(s)[0])),
        # fan_out instead of fan_in
        (jinit.he_normal, lambda s: normal_law(2 / ref_fans(s)[1])),
    ],
)
def test_ks_has_power(init, wrong_law):
    """Negative controls: the KS test above does tell laws apart at these sample sizes."""
    w = init(KEY, DENSE)
    res = stats.kstest(np.asarray(w, np.float64).ravel(), wrong_law(DENSE).cdf)
    assert res.pvalue < P_MIN


# --------------------------------------------------------------------------- sparse


@pytest.mark.parametrize(
    ("shape", "sparsity"), [((1000, 200), 0.5), ((10, 7), 0.9), ((10, 7), 0.33), ((10, 7), 0.0)]
)
def test_sparse_zero_count(shape, sparsity):
    w = np.asarray(jinit.sparse(KEY, shape, sparsity=sparsity, stddev=0.1))
    expected = math.ceil(sparsity * shape[0])
    np.testing.assert_array_equal((w == 0).sum(axis=0), np.full(shape[1], expected))


def test_sparse_full():
    w = np.asarray(jinit.sparse(KEY, (10, 7), sparsity=1.0, stddev=0.1))
    assert (w == 0).all()


def test_sparse_nonzeros_are_normal():
    w = np.asarray(jinit.sparse(KEY, (1000, 200), sparsity=0.5, stddev=0.1))
    nz = w[w != 0]
    assert nz.size == 500 * 200
    assert_ks(nz, stats.norm(0, 0.1))
    assert_variance(nz, 0.01)


def test_sparse_zero_rows_are_random():
    # Each row is zero in a column with probability sparsity, independently of its index.
    w = np.asarray(jinit.sparse(KEY, (1000, 200), sparsity=0.5, stddev=0.1))
    frac = (w == 0).mean(axis=1)
    # Per row, the count of zeros over 200 columns is Binomial(200, 1/2).
    se = math.sqrt(0.5 * 0.5 / 200)
    assert np.all(np.abs(frac - 0.5) < 5 * se)
    # and the zero pattern differs between columns
    assert len({tuple(col) for col in (w == 0).T}) == 200


# --------------------------------------------------------------------------- orthogonal


@pytest.mark.parametrize(
    ("shape", "column_axis", "gain"),
    [
        ((64, 64), -1, 1.0),
        ((100, 40), -1, 1.7),  # tall: orthonormal columns
        ((40, 100), -1, 0.5),  # wide: orthonormal rows
        ((3, 3, 16, 64), -1, 1.0),  # matrix (144, 64)
        ((3, 3, 4, 64), -1, 2.0),  # matrix (36, 64): orthonormal rows
        ((32, 20), 0, 1.0),  # columns along axis 0: matrix (20, 32)
    ],
)
def test_orthogonal_is_orthogonal(shape, column_axis, gain):
    w = np.asarray(jinit.orthogonal(KEY, shape, gain=gain, column_axis=column_axis), np.float64)
    assert w.shape == shape
    m = np.moveaxis(w, column_axis, -1).reshape(-1, shape[column_axis])
    rows, cols = m.shape
    gram = m.T @ m if rows >= cols else m @ m.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), atol=2e-5 * gain**2)


def test_orthogonal_entry_variance():
    # A tall Haar (Stiefel) matrix: each column has unit norm, so entries have variance 1/n.
    n, k = 512, 256
    w = np.asarray(jinit.orthogonal(KEY, (n, k)), np.float64)
    assert w.var() == pytest.approx(1 / n, rel=1e-4)
    assert abs(w.mean()) < 5 / math.sqrt(n * n * k / n)  # entries of mean 0
    # ...and sqrt(n) * entry is close to N(0, 1) (the exact law is a scaled Beta, below).
    # E[q^4] = 3 / (n (n + 2)) for an entry of a uniform unit vector in R^n.
    assert np.mean((w * math.sqrt(n)) ** 4) == pytest.approx(3 * n / (n + 2), rel=0.04)


@pytest.mark.parametrize(("rows", "cols"), [(24, 24), (40, 12)])
def test_orthogonal_is_haar(rows, cols):
    """q_ij^2 ~ Beta(1/2, (rows - 1)/2) for a uniformly random orthonormal column."""
    n_draws = 4000
    keys = jax.random.split(KEY, n_draws)
    qs = np.asarray(jax.vmap(lambda k: jinit.orthogonal(k, (rows, cols)))(keys), np.float64)
    beta = stats.beta(0.5, (rows - 1) / 2)
    for i, j in [(0, 0), (5, 3), (rows - 1, cols - 1)]:
        assert_ks(qs[:, i, j] ** 2, beta)
        # sign symmetry: a QR without sign correction makes q_00 one-signed
        positives = int((qs[:, i, j] > 0).sum())
        assert stats.binomtest(positives, n_draws, 0.5).pvalue > P_MIN
    if rows == cols:
        # Haar on O(n): E[tr Q] = 0, E[(tr Q)^2] = 1.
        tr = np.trace(qs, axis1=1, axis2=2)
        assert abs(tr.mean()) < 5 / math.sqrt(n_draws)
        assert np.mean(tr**2) == pytest.approx(1.0, abs=0.12)


def test_orthogonal_half_precision():
    for dtype in (jnp.float16, jnp.bfloat16):
        w = jinit.orthogonal(KEY, (64, 64), dtype)
        assert w.dtype == dtype
        m = np.asarray(w, np.float64)
        np.testing.assert_allclose(m.T @ m, np.eye(64), atol=0.05)


# --------------------------------------------------------------------------- delta orthogonal


@pytest.mark.parametrize(
    ("shape", "gain"),
    [((3, 16, 16), 1.0), ((3, 3, 16, 32), 1.3), ((5, 4, 8, 8), 1.0), ((3, 3, 3, 4, 4), 0.5)],
)
def test_delta_orthogonal_structure(shape, gain):
    w = np.asarray(jinit.delta_orthogonal(KEY, shape, gain=gain), np.float64)
    center = tuple((k - 1) // 2 for k in shape[:-2])
    tap = w[center]
    np.testing.assert_allclose(tap @ tap.T, gain**2 * np.eye(shape[-2]), atol=2e-5)
    rest = w.copy()
    rest[center] = 0
    assert (rest == 0).all()


def test_delta_orthogonal_conv_is_an_isometry():
    # With in == out, a delta-orthogonal conv under SAME padding preserves the norm.
    x = jax.random.normal(jax.random.key(1), (2, 9, 9, 16))
    w = jinit.delta_orthogonal(KEY, (3, 3, 16, 16))
    y = jax.lax.conv_general_dilated(
        x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    np.testing.assert_allclose(jnp.linalg.norm(y), jnp.linalg.norm(x), rtol=1e-5)


# --------------------------------------------------------------------------- deterministic laws


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.complex64])
def test_zeros_ones_constant(dtype):
    for init, value in [
        (jinit.zeros, 0),
        (jinit.ones, 1),
        (P(jinit.constant, value=-2.5), -2.5),
    ]:
        w = init(KEY, (3, 4), dtype)
        assert w.dtype == dtype and w.shape == (3, 4)
        np.testing.assert_array_equal(np.asarray(w), np.full((3, 4), value, dtype=w.dtype))


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3), (1, 1)])
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_identity(shape, gain):
    w = jinit.identity(KEY, shape, gain=gain)
    np.testing.assert_array_equal(np.asarray(w), gain * np.eye(*shape, dtype=np.float32))


def torch_dirac(shape, groups=1):
    """PyTorch's nn.init.dirac_ on an (out, in, *k) weight, re-implemented in NumPy."""
    w = np.zeros(shape, np.float32)
    out_per_group = shape[0] // groups
    min_dim = min(out_per_group, shape[1])
    for g in range(groups):
        for d in range(min_dim):
            w[(g * out_per_group + d, d, *(k // 2 for k in shape[2:]))] = 1
    return w


def torch_to_jax(w):
    """(out, in, *k) -> (*k, in, out)."""
    nd = w.ndim
    return np.transpose(w, (*range(2, nd), 1, 0))


@pytest.mark.parametrize(
    ("jax_shape", "groups"),
    [
        ((3, 4, 4), 1),
        ((3, 3, 4, 4), 1),
        ((3, 3, 4, 6), 1),  # in < out
        ((5, 3, 6, 4), 1),  # in > out
        ((3, 3, 3, 2, 2), 1),
        ((3, 3, 2, 6), 3),  # groups: 2 out channels per group
        ((3, 3, 4, 8), 2),
        ((1, 1, 3, 4), 2),
        ((3, 3, 5, 6), 3),  # in > out per group
    ],
)
def test_dirac_matches_pytorch(jax_shape, groups):
    torch_shape = (jax_shape[-1], jax_shape[-2], *jax_shape[:-2])
    expected = torch_to_jax(torch_dirac(torch_shape, groups))
    np.testing.assert_array_equal(np.asarray(jinit.dirac(KEY, jax_shape, groups=groups)), expected)


@pytest.mark.parametrize("kernel", [(3, 3), (2, 2), (4, 3), (1, 1)])
@pytest.mark.parametrize("groups", [1, 2])
def test_dirac_conv_is_identity(kernel, groups):
    # Under JAX's SAME padding the conv passes its input through, odd or even kernels.
    channels = 4
    x = jax.random.normal(jax.random.key(3), (2, 7, 7, channels))
    w = jinit.dirac(KEY, (*kernel, channels // groups, channels), groups=groups)
    y = jax.lax.conv_general_dilated(
        x,
        w,
        (1, 1),
        "SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=groups,
    )
    np.testing.assert_allclose(np.asarray(y), np.asarray(x), atol=1e-6)


def test_dirac_even_kernel_tap():
    # Documented difference from PyTorch for even kernels: tap (k-1)//2, not k//2.
    w = np.asarray(jinit.dirac(KEY, (4, 2, 2)))
    expected = np.zeros((4, 2, 2), np.float32)
    expected[1, 0, 0] = expected[1, 1, 1] = 1
    np.testing.assert_array_equal(w, expected)


# --------------------------------------------------------------------------- bits vs JAX


PARITY = [
    ("xavier_uniform", jinit.xavier_uniform, jnn.glorot_uniform(), CONV),
    ("glorot_uniform", jinit.glorot_uniform, jnn.glorot_uniform(), DENSE),
    (
        "xavier_normal",
        P(jinit.xavier_normal, distribution="truncated_normal"),
        jnn.glorot_normal(),
        CONV,
    ),
    ("he_normal", P(jinit.he_normal, distribution="truncated_normal"), jnn.he_normal(), CONV),
    ("kaiming_normal", P(jinit.kaiming_normal, distribution="truncated_normal"),
     jnn.kaiming_normal(), DENSE),
    ("he_uniform", jinit.he_uniform, jnn.he_uniform(), CONV),
    ("kaiming_uniform", jinit.kaiming_uniform, jnn.kaiming_uniform(), DENSE),
    ("lecun_normal", P(jinit.lecun_normal, distribution="truncated_normal"), jnn.lecun_normal(),
     CONV),
    ("lecun_uniform", jinit.lecun_uniform, jnn.lecun_uniform(), CONV),
    ("normal", P(jinit.normal, stddev=0.3), jnn.normal(0.3), DENSE),
    ("normal_default", jinit.normal, jnn.normal(), SMALL),
    ("truncated_normal", P(jinit.truncated_normal, stddev=0.3), jnn.truncated_normal(0.3), DENSE),
    (
        "truncated_normal_bounds",
        P(jinit.truncated_normal, stddev=2.0, lower=-1.0, upper=3.0),
        jnn.truncated_normal(2.0, lower=-1.0, upper=3.0),
        SMALL,
    ),
    ("orthogonal", jinit.orthogonal, jnn.orthogonal(), SMALL),
    ("orthogonal_gain_wide", P(jinit.orthogonal, gain=1.5), jnn.orthogonal(1.5), (20, 64)),
    ("orthogonal_conv", jinit.orthogonal, jnn.orthogonal(), (3, 3, 8, 32)),
    ("orthogonal_col0", P(jinit.orthogonal, column_axis=0), jnn.orthogonal(column_axis=0),
     (16, 24)),
    ("delta_orthogonal", jinit.delta_orthogonal, jnn.delta_orthogonal(), (3, 3, 16, 32)),
    ("delta_orthogonal_1d", P(jinit.delta_orthogonal, gain=2.0), jnn.delta_orthogonal(2.0),
     (4, 8, 8)),
    ("delta_orthogonal_3d", jinit.delta_orthogonal, jnn.delta_orthogonal(), (3, 3, 3, 4, 4)),
    ("zeros", jinit.zeros, jnn.zeros, DENSE),
    ("ones", jinit.ones, jnn.ones, CONV),
    (
        "axes_partial",
        P(jinit.variance_scaling, scale=2.0, in_axis=1, out_axis=0),
        jnn.variance_scaling(2.0, "fan_in", "normal", in_axis=1, out_axis=0),
        (128, 96, 3, 3),
    ),
    (
        "xavier_axes_partial",
        P(jinit.xavier_uniform, in_axis=-1, out_axis=-2),
        jnn.glorot_uniform(in_axis=-1, out_axis=-2),
        (400, 500),
    ),
    (
        "tuple_axes_batch",
        P(jinit.lecun_normal, distribution="truncated_normal", in_axis=(1, 2), out_axis=-1,
          batch_axis=0),
        jnn.lecun_normal(in_axis=(1, 2), out_axis=-1, batch_axis=0),
        (4, 5, 6, 7),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "ours", "theirs", "shape"), PARITY, ids=[c[0] for c in PARITY])
def test_bits_equal_jax(name, ours, theirs, shape):
    for key in (KEY, jax.random.key(7)):
        assert_bits_equal(ours(key, shape, jnp.float32), theirs(key, shape, jnp.float32))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.complex64])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])
@pytest.mark.parametrize("distribution", ["normal", "truncated_normal", "uniform"])
def test_variance_scaling_bits_equal_jax(mode, distribution, dtype):
    ours = jinit.variance_scaling(
        KEY, SMALL_CONV, dtype, scale=2.5, mode=mode, distribution=distribution
    )
    theirs = jnn.variance_scaling(2.5, mode, distribution)(KEY, SMALL_CONV, dtype)
    assert_bits_equal(ours, theirs)


def test_complex_jit_equals_eager():
    # Regression: under jit, XLA contracted c * u and 1 - t into an FMA in the truncated
    # complex normal, and the jitted draw differed from the eager one in the last bit.
    init = P(jinit.variance_scaling, scale=2.5, distribution="truncated_normal")
    jitted = jax.jit(init, static_argnums=(1, 2))
    for key in (KEY, jax.random.key(7)):
        eager = init(key, SMALL_CONV, jnp.complex64)
        assert_bits_equal(jitted(key, SMALL_CONV, jnp.complex64), eager)


def test_bits_equal_jax_float64(x64):
    shape = (40, 30)
    for ours, theirs in [
        (jinit.he_uniform, jnn.he_uniform()),
        (P(jinit.he_normal, distribution="truncated_normal"), jnn.he_normal()),
        (jinit.xavier_normal, jnn.variance_scaling(1.0, "fan_avg", "normal")),
        (P(jinit.normal, stddev=0.5), jnn.normal(0.5)),
        (jinit.orthogonal, jnn.orthogonal()),
    ]:
        assert_bits_equal(ours(KEY, shape, jnp.float64), theirs(KEY, shape, jnp.float64))


# --------------------------------------------------------------------------- jit and vmap


# Few distinct shapes: an eager draw compiles its ops once per (law, shape, dtype), so
# initializers that share a law and a shape share the compiled ops.
ALL = [
    ("zeros", jinit.zeros, SMALL),
    ("ones", jinit.ones, SMALL),
    ("constant", P(jinit.constant, value=0.3), SMALL),
    ("normal", P(jinit.normal, stddev=2.0, mean=1.0), SMALL),
    ("uniform", jinit.uniform, SMALL),
    ("truncated_normal", jinit.truncated_normal, SMALL),
    *[
        (f"variance_scaling_{d}", P(jinit.variance_scaling, distribution=d), SMALL)
        for d in ("normal", "truncated_normal", "uniform")
    ],
    ("lecun_normal", jinit.lecun_normal, SMALL),
    ("lecun_uniform", jinit.lecun_uniform, SMALL),
    ("xavier_normal", jinit.xavier_normal, SMALL),
    ("xavier_uniform", jinit.xavier_uniform, SMALL),
    ("glorot_normal", jinit.glorot_normal, SMALL),
    ("glorot_uniform", jinit.glorot_uniform, SMALL),
    ("he_normal", P(jinit.he_normal, mode="fan_out", negative_slope=0.1), SMALL),
    ("he_uniform", jinit.he_uniform, SMALL),
    ("kaiming_normal", jinit.kaiming_normal, SMALL),
    ("kaiming_uniform", jinit.kaiming_uniform, SMALL),
    ("torch_default", P(jinit.torch_default, in_axis=1, out_axis=0), SMALL),
    ("torch_default_bias", P(jinit.torch_default_bias, fan_in=30), SMALL),
    ("orthogonal", jinit.orthogonal, SMALL),
    ("delta_orthogonal", jinit.delta_orthogonal, SMALL_CONV),
    ("identity", jinit.identity, SMALL),
    ("dirac", jinit.dirac, SMALL_CONV),
    ("sparse", jinit.sparse, SMALL),
]


def test_all_covers_every_initializer():
    def base(init):
        return jinit.name_of(init).split(":")[0]

    covered = {c[0] for c in ALL} | {base(c[1]) for c in ALL}
    assert set(jinit.available()) <= covered


@pytest.mark.parametrize(("name", "init", "shape"), ALL, ids=[c[0] for c in ALL])
def test_vmap_and_jit_equal_eager(name, init, shape):
    keys = jax.random.split(jax.random.key(11), 3)
    per_key = [init(k, shape) for k in keys]
    assert not np.array_equal(per_key[0], per_key[1]) or name in DETERMINISTIC
    vmapped = jax.vmap(lambda k: init(k, shape))(keys)
    for i in range(3):
        assert_bits_equal(vmapped[i], per_key[i])
    jitted = jax.jit(init, static_argnums=(1, 2))
    for i in range(3):
        assert_bits_equal(jitted(keys[i], shape, jnp.float32), per_key[i])


@pytest.mark.parametrize(("name", "init", "shape"), ALL, ids=[c[0] for c in ALL])
def test_zero_size_dims(name, init, shape):
    if len(shape) == 1:
        empties = [(0,)]
    elif len(shape) == 2:
        empties = [(0, shape[1]), (shape[0], 0), (0, 0)]
    else:
        empties = [(0, *shape[1:]), (*shape[:-2], 0, shape[-1])]
    for empty in empties:
        for dtype in (jnp.float32, jnp.bfloat16):
            w = init(KEY, empty, dtype)
            assert w.shape == empty and w.dtype == dtype


# --------------------------------------------------------------------------- dtypes


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


MOMENTS = [
    # (id, init, shape, expected std); one shape for all the random laws, so that an eager
    # draw compiles once per law and dtype.
    ("normal", P(jinit.normal, stddev=0.5), (256, 256), 0.5),
    ("uniform", P(jinit.uniform, scale=0.3), (256, 256), 0.3 / math.sqrt(3)),
    ("truncated_normal", jinit.truncated_normal, (256, 256), TRUNC_STD),
    ("he_normal", jinit.he_normal, (256, 256), math.sqrt(2 / 256)),
    ("he_normal_trunc", P(jinit.he_normal, distribution="truncated_normal"), (256, 256),
     math.sqrt(2 / 256)),
    ("he_uniform", jinit.he_uniform, (256, 256), math.sqrt(2 / 256)),
    ("lecun_normal", jinit.lecun_normal, (256, 256), math.sqrt(1 / 256)),
    ("lecun_uniform", jinit.lecun_uniform, (256, 256), math.sqrt(1 / 256)),
    ("xavier_normal", jinit.xavier_normal, (256, 256), math.sqrt(2 / 512)),
    ("xavier_uniform", jinit.xavier_uniform, (256, 256), math.sqrt(2 / 512)),
    ("variance_scaling", P(jinit.variance_scaling, scale=3.0, mode="fan_out"), (256, 256),
     math.sqrt(3 / 256)),
    ("torch_default", jinit.torch_default, (256, 256), 1 / math.sqrt(3 * 256)),
    ("torch_default_bias", P(jinit.torch_default_bias, fan_in=16), (256, 256),
     1 / math.sqrt(3 * 16)),
    ("orthogonal", jinit.orthogonal, (256, 256), 1 / 16),
    ("sparse", P(jinit.sparse, sparsity=0.75, stddev=0.2), (256, 256), 0.1),
    ("delta_orthogonal", jinit.delta_orthogonal, (3, 3, 64, 64), 1 / 8 / 3),
    ("dirac", jinit.dirac, (3, 3, 64, 64), 1 / 24),
    ("identity", jinit.identity, (256, 256), 1 / 16),
    ("ones", jinit.ones, (256, 256), 0.0),
]  # fmt: skip


def _check_moments(init, shape, dtype, std):
    w = init(KEY, shape, dtype)
    assert w.dtype == jnp.dtype(dtype) and w.shape == shape
    x = np.asarray(w.astype(jnp.float32) if dtype == jnp.bfloat16 else w, np.float64)
    assert np.isfinite(x).all()
    assert x.std() == pytest.approx(std, rel=0.03, abs=1e-7)


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32])
@pytest.mark.parametrize(("name", "init", "shape", "std"), MOMENTS, ids=[m[0] for m in MOMENTS])
def test_dtypes(name, init, shape, std, dtype):
    _check_moments(init, shape, dtype, std)


@pytest.mark.parametrize(("name", "init", "shape", "std"), MOMENTS, ids=[m[0] for m in MOMENTS])
def test_float64(name, init, shape, std, x64):
    _check_moments(init, shape, jnp.float64, std)


def test_x64_fixture_restores():
    assert jax.config.jax_enable_x64 == X64_AT_IMPORT


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])
@pytest.mark.parametrize("distribution", ["normal", "truncated_normal", "uniform"])
def test_complex_variance(mode, distribution):
    shape = (400, 250)
    w = np.asarray(
        jinit.variance_scaling(
            KEY, shape, jnp.complex64, scale=2.0, mode=mode, distribution=distribution
        )
    )
    assert w.dtype == np.complex64
    target = 2.0 / denominator(mode, shape)
    m2 = np.abs(w.astype(np.complex128)) ** 2
    if distribution == "normal":
        # complex normal with E|w|^2 = target: |w|^2 ~ Exponential(mean target)
        expected_m2, law = target, stats.expon(scale=target)
    elif distribution == "uniform":
        # uniform on the disk of radius sqrt(2 target): |w|^2 ~ U(0, 2 target)
        expected_m2, law = target, stats.uniform(0, 2 * target)
    else:
        # |z|^2 ~ Exp(1) truncated to [0, 4], divided by JAX's constant c^2 = 1 - 5 e^-4
        # (not by the truncated law's E|z|^2 = (1 - 5e^-4) / (1 - e^-4)): E|w|^2 overshoots
        # the target by 1 / (1 - e^-4). Kept for bit parity with jax.nn.initializers.
        c2 = 1 - 5 * math.exp(-4)
        expected_m2 = target / (1 - math.exp(-4))
        law = stats.truncexpon(4, scale=target / c2)
        assert m2.max() <= 4 * target / c2 * (1 + 1e-5)
    assert m2.mean() == pytest.approx(expected_m2, rel=0.01)
    assert_ks(m2, law)
    assert_ks(np.angle(w), stats.uniform(-math.pi, 2 * math.pi))  # isotropic
    assert abs(w.mean()) < 6 * math.sqrt(expected_m2 / w.size)


def test_complex_normal_and_constant():
    w = np.asarray(jinit.normal(KEY, (400, 250), jnp.complex64, stddev=0.5))
    assert w.dtype == np.complex64
    assert np.mean(np.abs(w) ** 2) == pytest.approx(0.25, rel=0.02)
    np.testing.assert_array_equal(
        np.asarray(jinit.constant(KEY, (2,), jnp.complex64, value=1.5)), [1.5, 1.5]
    )


# --------------------------------------------------------------------------- bad input


BAD_SHAPES = [
    (5, TypeError, r"got the int 5; write \(5,\) for a vector"),
    ([3, 2.0], TypeError, r"tuple of non-negative ints.*element 2\.0 is a float"),
    ((3, -1), ValueError, r"tuple of non-negative ints, got \(3, -1\)"),
    ("ab", TypeError, "tuple of non-negative ints, got str"),
    ((3, True), TypeError, "element True is a bool"),
    (None, TypeError, "tuple of non-negative ints"),
]


@pytest.mark.parametrize(("name", "init", "shape"), ALL, ids=[c[0] for c in ALL])
@pytest.mark.parametrize(("bad", "error", "match"), BAD_SHAPES, ids=[str(b[0]) for b in BAD_SHAPES])
def test_bad_shape(name, init, shape, bad, error, match):
    with pytest.raises(error, match=match):
        init(KEY, bad)


@pytest.mark.parametrize(("name", "init", "shape"), ALL, ids=[c[0] for c in ALL])
@pytest.mark.parametrize("dtype", [jnp.int32, jnp.uint8, jnp.bool_, "int64", "not_a_dtype"])
def test_bad_dtype(name, init, shape, dtype):
    match = r"accepted dtypes: float16, bfloat16, float32, float64|is not a dtype"
    with pytest.raises(TypeError, match=match):
        init(KEY, shape, dtype)


def test_complex_only_where_supported():
    # The variance-scaling family, normal and the constants take complex dtypes; others not.
    real_only = r"accepted dtypes: float16, bfloat16, float32, float64\."
    for init in (jinit.uniform, jinit.truncated_normal, jinit.torch_default, jinit.orthogonal):
        with pytest.raises(TypeError, match=real_only):
            init(KEY, (4, 4), jnp.complex64)
    for init in (jinit.he_uniform, jinit.xavier_normal, jinit.lecun_uniform, jinit.normal):
        assert init(KEY, (4, 4), jnp.complex64).dtype == jnp.complex64


FAN_BASED = [
    jinit.variance_scaling,
    jinit.lecun_normal,
    jinit.lecun_uniform,
    jinit.xavier_normal,
    jinit.xavier_uniform,
    jinit.he_normal,
    jinit.he_uniform,
    jinit.torch_default,
]


@pytest.mark.parametrize("init", FAN_BASED, ids=jinit.name_of)
@pytest.mark.parametrize("shape", [(), (7,)])
def test_fan_based_need_2d(init, shape):
    with pytest.raises(ValueError, match=r"in_axis.*|bias") as info:
        init(KEY, shape)
    assert "jinit.zeros" in str(info.value) and "in_axis=0" in str(info.value)


def test_fan_based_vector_with_explicit_axes():
    w = jinit.lecun_normal(KEY, (100_000,), in_axis=0, out_axis=())
    assert float(jnp.var(w)) == pytest.approx(1e-5, rel=0.02)


BAD_OPTIONS = [
    # (initializer, shape, options, error, message)
    (jinit.normal, (3,), {"stddev": 0}, ValueError, "stddev must be a finite number > 0"),
    (jinit.normal, (3,), {"stddev": -1.0}, ValueError, "stddev must be a finite number > 0"),
    (
        jinit.normal,
        (3,),
        {"stddev": float("nan")},
        ValueError,
        "stddev must be a finite number > 0, got nan",
    ),
    (jinit.normal, (3,), {"stddev": "big"}, TypeError, "stddev must be a positive number"),
    (jinit.normal, (3,), {"mean": float("inf")}, ValueError, "mean must be finite"),
    (jinit.uniform, (3,), {"scale": 0.0}, ValueError, "scale must be a finite number > 0"),
    (
        jinit.truncated_normal,
        (3,),
        {"stddev": -2.0},
        ValueError,
        "stddev must be a finite number > 0",
    ),
    (jinit.truncated_normal, (3,), {"lower": 1.0, "upper": -1.0}, ValueError, "need lower < upper"),
    (
        jinit.variance_scaling,
        (3, 3),
        {"scale": -1.0},
        ValueError,
        "scale must be a finite number > 0",
    ),
    (
        jinit.variance_scaling,
        (3, 3),
        {"scale": float("inf")},
        ValueError,
        "scale must be a finite number > 0",
    ),
    (
        jinit.variance_scaling,
        (3, 3),
        {"mode": "fan_sum"},
        ValueError,
        "unknown mode 'fan_sum'; accepted: 'fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg'",
    ),
    (
        jinit.variance_scaling,
        (3, 3),
        {"distribution": "gaussian"},
        ValueError,
        "unknown distribution 'gaussian'; accepted: 'normal', 'truncated_normal', 'uniform'",
    ),
    (jinit.he_normal, (3, 3), {"mode": "fan"}, ValueError, "unknown mode 'fan'; accepted"),
    (
        jinit.he_normal,
        (3, 3),
        {"distribution": "uniform"},
        ValueError,
        "he_normal: unknown distribution 'uniform'; accepted: 'normal', 'truncated_normal'",
    ),
    (
        jinit.lecun_normal,
        (3, 3),
        {"distribution": "uniform"},
        ValueError,
        "accepted: 'normal', 'truncated_normal'",
    ),
    (
        jinit.xavier_normal,
        (3, 3),
        {"distribution": "uniform"},
        ValueError,
        "accepted: 'normal', 'truncated_normal'",
    ),
    (
        jinit.he_normal,
        (3, 3),
        {"negative_slope": float("nan")},
        ValueError,
        "negative_slope must be finite",
    ),
    (jinit.xavier_uniform, (3, 3), {"gain": 0}, ValueError, "gain must be a finite number > 0"),
    (jinit.xavier_normal, (3, 3), {"gain": -1.0}, ValueError, "gain must be a finite number > 0"),
    (jinit.orthogonal, (3, 3), {"gain": 0.0}, ValueError, "gain must be a finite number > 0"),
    (jinit.orthogonal, (3,), {}, ValueError, "at least 2 dimensions.*jinit.zeros"),
    (jinit.orthogonal, (3, 3), {"column_axis": 2}, ValueError, "column_axis=2 is out of range"),
    (jinit.delta_orthogonal, (3, 3), {}, ValueError, "3-D, 4-D or 5-D conv kernel"),
    (jinit.delta_orthogonal, (3, 3, 8, 4), {}, ValueError, "in <= out channels"),
    (
        jinit.delta_orthogonal,
        (3, 3, 4, 4),
        {"gain": -1.0},
        ValueError,
        "gain must be a finite number > 0",
    ),
    (jinit.identity, (3, 3, 3), {}, ValueError, r"needs a 2-D \(in, out\) shape"),
    (
        jinit.identity,
        (3, 3),
        {"gain": float("nan")},
        ValueError,
        "gain must be a finite number > 0",
    ),
    (jinit.dirac, (3, 3), {}, ValueError, "3-D, 4-D or 5-D conv kernel"),
    (
        jinit.dirac,
        (3, 3, 4, 6),
        {"groups": 4},
        ValueError,
        r"out channels \(6\) must be divisible by groups \(4\)",
    ),
    (jinit.dirac, (3, 3, 4, 4), {"groups": 0}, ValueError, "groups must be a positive int"),
    (jinit.sparse, (3, 3), {"sparsity": 1.5}, ValueError, r"sparsity must be a number in \[0, 1\]"),
    (
        jinit.sparse,
        (3, 3),
        {"sparsity": float("nan")},
        ValueError,
        r"sparsity must be a number in \[0, 1\]",
    ),
    (jinit.sparse, (3, 3), {"stddev": 0.0}, ValueError, "stddev must be a finite number > 0"),
    (jinit.sparse, (3, 3, 3), {}, ValueError, r"needs a 2-D \(in, out\) shape"),
    (
        jinit.torch_default_bias,
        (3,),
        {"fan_in": 0},
        ValueError,
        "fan_in must be the weight's fan-in, a positive int",
    ),
    (jinit.torch_default_bias, (3,), {"fan_in": 2.5}, ValueError, "a positive int; got 2.5"),
    (jinit.constant, (3,), {"value": float("nan")}, ValueError, "value must be finite"),
    (jinit.he_normal, (3, 3), {"in_axis": 5}, ValueError, "in_axis=5 is out of range"),
    (
        jinit.he_normal,
        (3, 3),
        {"in_axis": 0, "out_axis": 0},
        ValueError,
        "must name different axes",
    ),
]


@pytest.mark.parametrize(("init", "shape", "options", "error", "match"), BAD_OPTIONS)
def test_bad_options(init, shape, options, error, match):
    with pytest.raises(error, match=match):
        init(KEY, shape, **options)


@pytest.mark.parametrize(("name", "init", "shape"), ALL, ids=[a[0] for a in ALL])
def test_called_like_a_jax_factory_says_what_to_write(name, init, shape):
    law = init.func if isinstance(init, P) else init
    with pytest.raises(TypeError, match="jinit initializers are the functions themselves"):
        law()
    with pytest.raises(TypeError, match=r"pass jax\.random\.key\(0\)"):
        law(0, shape)


def test_factory_call_with_options_suggests_the_partial():
    with pytest.raises(
        TypeError, match=r"functools\.partial\(jinit\.he_normal, mode='fan_out'\) for options"
    ):
        jinit.he_normal(mode="fan_out")
    with pytest.raises(TypeError, match=r"pass jinit\.normal as it is"):
        jinit.normal(0.01)  # jax.nn.initializers.normal(0.01)
    # Keyword arguments are fine.
    assert jinit.normal(key=KEY, shape=(2,)).shape == (2,)


def test_a_draw_too_large_for_memory_fails_before_allocating():
    with pytest.raises(ValueError, match=r"needs 4e\+03 GB, more than the .* GB of memory"):
        jinit.he_normal(KEY, (10**6, 10**6))
    with pytest.raises(ValueError, match="more than the"):
        jax.eval_shape(lambda k: jinit.orthogonal(k, (10**6, 10**6)), KEY)


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        jinit.he_normal(KEY, (3, 3), jnp.float32, "fan_out")


# --------------------------------------------------------------------------- flax


def test_flax_drop_in():
    nn = pytest.importorskip("flax.linen")
    x = jnp.ones((1, 1024))
    for kernel_init, n in [
        (jinit.he_normal, 1024),
        (P(jinit.he_normal, mode="fan_out"), 256),
    ]:
        params = nn.Dense(256, kernel_init=kernel_init).init(KEY, x)["params"]
        kernel = params["kernel"]
        assert kernel.shape == (1024, 256) and kernel.dtype == jnp.float32
        assert float(kernel.std()) == pytest.approx(math.sqrt(2 / n), rel=0.02)
    small = nn.Dense(4, kernel_init=jinit.he_normal).init(KEY, jnp.ones((1, 3)))["params"]
    assert small["kernel"].shape == (3, 4)
    conv = nn.Conv(32, (3, 3), kernel_init=jinit.xavier_uniform).init(KEY, jnp.ones((1, 8, 8, 64)))
    kernel = conv["params"]["kernel"]
    bound = math.sqrt(6 / (9 * 64 + 9 * 32))
    assert float(jnp.abs(kernel).max()) <= bound
    assert float(kernel.std()) == pytest.approx(bound / math.sqrt(3), rel=0.03)


@pytest.mark.parametrize("init", FAN_BASED[1:-1], ids=jinit.name_of)
def test_the_variance_scaling_family_names_itself_in_errors(init):
    # The family draws through one private helper; its errors name the law called.
    name = jinit.name_of(init)
    with pytest.raises(TypeError, match=rf"^{name}: "):
        init(KEY, (3, 3), jnp.int32)
