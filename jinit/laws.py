"""The initializers: one law per function, ``init(key, shape, dtype=float32, **options)``.

Every function here is itself the initializer (no factories): it drops into
``flax.linen.Dense(kernel_init=jinit.he_normal)`` as written, and options are keyword-only,
so ``functools.partial(jinit.he_normal, mode="fan_out")`` is a new initializer. Shapes are
static; every function works under ``jax.jit`` and ``jax.vmap`` over keys, and a vmapped
draw equals the per-key draws bit for bit.

Weight layouts follow JAX (``(*spatial, in, out)``). Fan-based initializers take
``in_axis``, ``out_axis`` and ``batch_axis`` (see :func:`jinit.fans`): the course layout
``(out, in)`` is ``in_axis=-1, out_axis=-2``; PyTorch's ``(out, in, *k)`` is ``in_axis=1,
out_axis=0``.

Where a law is also drawn by ``jax.nn.initializers``, the same key gives the same bits.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from jinit._sampling import by_size_class as _draw
from jinit._validate import (
    check_choice,
    check_dtype,
    check_finite,
    check_key,
    check_positive,
    check_shape,
    check_size,
)
from jinit.fans import fans

Array = jax.Array
DType = Any
Axes = int | Sequence[int]
Mode = Literal["fan_in", "fan_out", "fan_avg", "fan_geo_avg"]
Distribution = Literal["normal", "truncated_normal", "uniform"]

MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
DISTRIBUTIONS = ("normal", "truncated_normal", "uniform")
_NORMAL_DISTRIBUTIONS = ("normal", "truncated_normal")
_HALF = (jnp.float16, jnp.bfloat16)

# Standard deviation of N(0, 1) truncated to [-2, 2] (the constant jax.nn.initializers uses).
_TRUNC_STD = 0.87962566103423978
# jax.nn.initializers' divisor for the complex normal whose modulus is truncated at 2. It is
# sqrt(1 - 5 e^-4), the unnormalized second moment; the truncated law's own standard deviation
# is sqrt((1 - 5 e^-4) / (1 - e^-4)) = 0.96196..., so E|w|^2 comes out 1 / (1 - e^-4), 1.9%,
# above the target. Kept as is for bit parity with JAX.
_COMPLEX_TRUNC_STD = 0.95311164380491208


def _prepare(name: str, shape: Any, dtype: Any, *, allow_complex: bool = False):
    shape = check_shape(shape, name)
    dtype = check_dtype(dtype, name, allow_complex=allow_complex)
    check_size(shape, dtype, name)
    return shape, dtype


def _factory_error(name: str, kwargs: dict) -> TypeError:
    opts = ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) or "OPTION=VALUE"
    return TypeError(
        f"{name}: jinit initializers are the functions themselves, not factories: pass "
        f"jinit.{name} as it is (e.g. kernel_init=jinit.{name}), or "
        f"functools.partial(jinit.{name}, {opts}) for options; it is called as "
        f"{name}(key, shape, dtype)."
    )


def _law(*, complex_ok: bool = False) -> Callable[[Callable[..., Array]], Callable[..., Array]]:
    """Mark ``fn`` as an initializer ``(key, shape, dtype, **options)`` and check what every
    law takes: a call without a key and a shape (``jinit.he_normal()``, the
    jax.nn.initializers habit) or with an int key gets a one-line error saying what to write
    instead; ``shape`` and ``dtype`` reach ``fn`` checked (a tuple of ints; a real floating
    dtype, or also complex with ``complex_ok``; a draw that fits in memory)."""

    def decorate(fn: Callable[..., Array]) -> Callable[..., Array]:
        name, signature = fn.__name__, inspect.signature(fn)

        @functools.wraps(fn)
        def init(*args: Any, **kwargs: Any) -> Array:
            if len(args) + ("key" in kwargs) + ("shape" in kwargs) < 2:
                options = {k: v for k, v in kwargs.items() if k not in ("key", "shape", "dtype")}
                raise _factory_error(name, options)
            check_key(args[0] if args else kwargs["key"], name)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            given = bound.arguments
            given["shape"], given["dtype"] = _prepare(
                name, given["shape"], given["dtype"], allow_complex=complex_ok
            )
            return fn(*bound.args, **bound.kwargs)

        return init

    return decorate


def _truncated(key: Array, shape, dtype, lower: Any, upper: Any) -> Array:
    """``jax.random.truncated_normal`` with the shape second (as :func:`_draw` passes it)."""
    return jax.random.truncated_normal(key, lower, upper, shape, dtype)


def _scalar(value: Any, dtype: DType) -> Array | np.ndarray:
    """``jnp.array(value, dtype)``, a law's scale: on the host for a concrete value of a real
    dtype, where NumPy's arithmetic on it (sqrt, products, quotients: IEEE, correctly rounded)
    gives XLA's bits and compiles nothing; on the device for tracers and complex dtypes."""
    if isinstance(value, jax.core.Tracer) or not jnp.issubdtype(dtype, jnp.floating):
        return jnp.array(value, dtype)
    return np.asarray(value, jax.dtypes.canonicalize_dtype(dtype))


def _times(draw: Array, c: Array) -> Array:
    """A draw scaled by ``c`` (``then`` of :func:`_draw`: compiled with the cut)."""
    return draw * c


def _erfinv_times(u: Array, c: Array) -> Array:
    """``c * erfinv(u)``: a normal draw from a uniform one, as ``jax.nn.initializers``
    (``then`` of :func:`_draw`: compiled with the cut)."""
    return c * jax.scipy.special.erfinv(u)


def _is_empty(shape: tuple[int, ...]) -> bool:
    return math.prod(shape) == 0


def _scaled_normal(key: Array, shape, dtype, stddev: Array) -> Array:
    """N(0, stddev^2); for real dtypes via erfinv of a uniform, as jax.nn.initializers."""
    if jnp.issubdtype(dtype, jnp.floating):
        lo = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype), dtype=dtype)
        c = _scalar(np.sqrt(2), dtype) * stddev
        bounds = (lo, np.array(1.0, dtype))
        return _draw(jax.random.uniform, key, shape, dtype, *bounds, then=_erfinv_times,
                     then_args=(c,))  # fmt: skip
    return jax.random.normal(key, shape, dtype) * stddev


def _complex_uniform(key: Array, shape, dtype) -> Array:
    """Uniform on the disk of radius sqrt(2): zero mean, unit variance."""
    key_r, key_theta = jax.random.split(key)
    real = np.array(0, dtype).real.dtype
    r = jnp.sqrt(2 * jax.random.uniform(key_r, shape, real)).astype(dtype)
    theta = 2 * np.pi * jax.random.uniform(key_theta, shape, real).astype(dtype)
    return r * jnp.exp(1j * theta)


def _complex_truncated_normal(key: Array, upper: float, shape, dtype) -> Array:
    """Unit-variance complex normal with modulus truncated at ``upper``."""
    key_r, key_theta = jax.random.split(key)
    real = np.array(0, dtype).real.dtype
    t = (1 - jnp.exp(jnp.array(-(upper**2), dtype))) * jax.random.uniform(
        key_r, shape, real
    ).astype(dtype)
    # Round t before 1 - t, as an eager draw does (and jax.nn.initializers, eagerly): under
    # jit, XLA would contract c * u and 1 - t into a fused multiply-add.
    t = jax.lax.optimization_barrier(t)
    r = jnp.sqrt(-jnp.log(1 - t))
    theta = 2 * np.pi * jax.random.uniform(key_theta, shape, real).astype(dtype)
    return r * jnp.exp(1j * theta)


# --------------------------------------------------------------------------- constants


@_law(complex_ok=True)
def zeros(key: Array, shape: Sequence[int], dtype: DType = jnp.float32) -> Array:
    """All zeros. ``key`` is ignored.

    Every unit of a layer computes the same function and receives the same gradient, so
    gradient descent never breaks the symmetry: a zero-initialized hidden layer acts as a
    single unit forever. Fine for biases.

    Example:
        >>> import jax, jinit
        >>> jinit.zeros(jax.random.key(0), (2, 3))
        Array([[0., 0., 0.],
               [0., 0., 0.]], dtype=float32)
    """
    return jnp.zeros(shape, dtype)


@_law(complex_ok=True)
def ones(key: Array, shape: Sequence[int], dtype: DType = jnp.float32) -> Array:
    """All ones. ``key`` is ignored. As symmetric as :func:`zeros`; useful for scales.

    Example:
        >>> import jax, jinit
        >>> jinit.ones(jax.random.key(0), (2,))
        Array([1., 1.], dtype=float32)
    """
    return jnp.ones(shape, dtype)


@_law(complex_ok=True)
def constant(
    key: Array, shape: Sequence[int], dtype: DType = jnp.float32, *, value: float
) -> Array:
    """Every entry equal to ``value``. ``key`` is ignored.

    A constant weight matrix is as symmetric as zeros: all units stay identical.

    Example:
        >>> import functools, jax, jinit
        >>> init = functools.partial(jinit.constant, value=0.5)
        >>> init(jax.random.key(0), (2,))
        Array([0.5, 0.5], dtype=float32)
    """
    check_finite(value, "value", "constant")
    return jnp.full(shape, value, dtype)


# --------------------------------------------------------------------------- plain laws


@_law(complex_ok=True)
def normal(
    key: Array,
    shape: Sequence[int],
    dtype: DType = jnp.float32,
    *,
    stddev: float = 0.01,
    mean: float = 0.0,
) -> Array:
    """N(mean, stddev^2), independent entries.

    ``stddev=0.01`` is the "small random" init of Ng's courses (``randn * 0.01``);
    ``stddev=1`` is Nielsen's "large" init and ``stddev=10`` the course's ``randn * 10``.
    With ``mean=0`` the bits equal ``jax.nn.initializers.normal(stddev)``.

    Example:
        >>> import functools, jax, jinit
        >>> large = functools.partial(jinit.normal, stddev=10.0)
        >>> large(jax.random.key(0), (784, 30)).std() > 9
        Array(True, dtype=bool)
    """
    check_positive(stddev, "stddev", "normal")
    check_finite(mean, "mean", "normal")
    out = _scaled_normal(key, shape, dtype, _scalar(stddev, dtype))
    if isinstance(mean, int | float) and mean == 0:
        return out
    # The barrier keeps the product rounded before the mean is added: under jit, XLA would
    # otherwise contract the two into one fused multiply-add, and the jitted draw would
    # differ from the eager one in the last bit.
    return jax.lax.optimization_barrier(out) + jnp.array(mean, dtype)


@_law()
def uniform(
    key: Array, shape: Sequence[int], dtype: DType = jnp.float32, *, scale: float = 0.05
) -> Array:
    """U(-scale, scale), independent entries: symmetric about zero.

    Ng's Machine Learning ex4 "epsilon init" is ``scale=0.12``. Note that
    ``jax.nn.initializers.uniform(scale)`` is one-sided, U[0, scale); this one is not.

    Example:
        >>> import functools, jax, jinit
        >>> eps = functools.partial(jinit.uniform, scale=0.12)
        >>> float(abs(eps(jax.random.key(0), (400, 25))).max()) <= 0.12
        True
    """
    check_positive(scale, "scale", "uniform")
    return _symmetric_uniform(key, shape, dtype, _scalar(scale, dtype))


def _symmetric_uniform(key: Array, shape, dtype, bound: Array) -> Array:
    return _draw(jax.random.uniform, key, shape, dtype, -1, then=_times, then_args=(bound,))


@_law()
def truncated_normal(
    key: Array,
    shape: Sequence[int],
    dtype: DType = jnp.float32,
    *,
    stddev: float = 1.0,
    lower: float = -2.0,
    upper: float = 2.0,
) -> Array:
    """N(0, stddev^2) truncated to [lower * stddev, upper * stddev].

    Bounds are in standard deviations of the untruncated normal, and ``stddev`` is that of
    the untruncated normal (no correction; :func:`variance_scaling` corrects it). Same bits as
    ``jax.nn.initializers.truncated_normal(stddev, lower=lower, upper=upper)``.

    Example:
        >>> import jax, jinit
        >>> w = jinit.truncated_normal(jax.random.key(0), (1000,))
        >>> bool((abs(w) <= 2).all())
        True
    """
    check_positive(stddev, "stddev", "truncated_normal")
    check_finite(lower, "lower", "truncated_normal")
    check_finite(upper, "upper", "truncated_normal")
    if not isinstance(lower, jax.core.Tracer) and not isinstance(upper, jax.core.Tracer):
        if not lower < upper:
            raise ValueError(
                f"truncated_normal: need lower < upper, got lower={lower}, upper={upper}."
            )
    c = _scalar(stddev, dtype)
    return _draw(_truncated, key, shape, dtype, lower, upper, then=_times, then_args=(c,))


# --------------------------------------------------------------------------- variance scaling


def _variance(shape, mode: str, scale: float, in_axis, out_axis, batch_axis) -> float:
    fan_in, fan_out = fans(shape, in_axis, out_axis, batch_axis)
    if mode == "fan_in":
        denominator = fan_in
    elif mode == "fan_out":
        denominator = fan_out
    elif mode == "fan_avg":
        denominator = (fan_in + fan_out) / 2
    else:
        denominator = (fan_in * fan_out) ** 0.5
    return scale / denominator if denominator != 0 else 0.0


@_law(complex_ok=True)
def variance_scaling(
    key: Array,
    shape: Sequence[int],
    dtype: DType = jnp.float32,
    *,
    scale: float = 1.0,
    mode: Mode = "fan_in",
    distribution: Distribution = "normal",
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
) -> Array:
    """Zero-mean draws with variance ``scale / n``, ``n`` chosen by ``mode``.

    ``n`` is fan_in, fan_out, (fan_in + fan_out) / 2 (``"fan_avg"``) or
    sqrt(fan_in * fan_out) (``"fan_geo_avg"``), fans from :func:`jinit.fans`.

    - ``"normal"``: N(0, scale / n).
    - ``"truncated_normal"``: a normal truncated at two standard deviations, rescaled so its
      variance is still scale / n (the JAX/Keras variant).
    - ``"uniform"``: U(-sqrt(3 scale / n), +sqrt(3 scale / n)).

    Complex dtypes get the same target variance E|w|^2 (complex normal, or uniform on a
    disk); the truncated complex normal, as in JAX, overshoots it by a factor
    1 / (1 - e^-4) = 1.019. The bits equal ``jax.nn.initializers.variance_scaling`` with the
    same arguments.

    The named laws are all special cases: LeCun (scale 1, fan_in), Glorot/Xavier
    (scale 1, fan_avg), He/Kaiming (scale 2, fan_in).

    Example:
        >>> import jax, jinit
        >>> w = jinit.variance_scaling(jax.random.key(0), (3, 3, 64, 128), scale=2.0)
        >>> round(float(w.var() * 576), 1)      # fan_in of a 3x3x64 kernel is 576
        2.0
    """
    axes = (in_axis, out_axis, batch_axis)
    return _scaled("variance_scaling", key, shape, dtype, scale, mode, distribution, axes)


def _scaled(
    name: str, key: Array, shape, dtype, scale: float, mode: str, distribution: str, axes
) -> Array:
    """The draw of :func:`variance_scaling` (``shape``, ``dtype`` checked), which every
    fan-based law of the family is; errors name the law ``name``. ``axes``: ``(in_axis,
    out_axis, batch_axis)``."""
    check_positive(scale, "scale", name)
    check_choice(mode, MODES, "mode", name)
    check_choice(distribution, DISTRIBUTIONS, "distribution", name)
    variance = _variance(shape, mode, scale, *axes)
    if _is_empty(shape):
        return jnp.zeros(shape, dtype)
    var = _scalar(variance, dtype)
    xp = np if isinstance(var, np.ndarray) else jnp  # on the host where var is
    real = jnp.issubdtype(dtype, jnp.floating)
    if distribution == "truncated_normal":
        if real:
            stddev = xp.sqrt(var) / _scalar(_TRUNC_STD, dtype)
            return _draw(_truncated, key, shape, dtype, -2, 2, then=_times, then_args=(stddev,))
        stddev = jnp.sqrt(var) / jnp.array(_COMPLEX_TRUNC_STD, dtype)
        return _complex_truncated_normal(key, 2, shape, dtype) * stddev
    if distribution == "normal":
        return _scaled_normal(key, shape, dtype, xp.sqrt(var))
    if real:
        return _symmetric_uniform(key, shape, dtype, xp.sqrt(3 * var))
    return _complex_uniform(key, shape, dtype) * jnp.sqrt(var)


def _check_normal_distribution(distribution: str, name: str) -> None:
    check_choice(distribution, _NORMAL_DISTRIBUTIONS, "distribution", name)


def _check_gain(gain: float, name: str) -> float:
    check_positive(gain, "gain", name)
    return gain


@_law(complex_ok=True)
def lecun_normal(
    key: Array,
    shape: Sequence[int],
    dtype: DType = jnp.float32,
    *,
    distribution: Literal["normal", "truncated_normal"] = "normal",
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
) -> Array:
    """LeCun normal: N(0, 1 / fan_in).

    LeCun et al. (1998), "Efficient BackProp"; Nielsen's ``default_weight_initializer``
    (``randn / sqrt(n_in)``) and the course's "Xavier" ``sqrt(1 / n[l-1])``.
    ``distribution="truncated_normal"`` gives the bits of ``jax.nn.initializers.lecun_normal()``.
    """
    name = "lecun_normal"
    _check_normal_distribution(distribution, name)
    axes = (in_axis, out_axis, batch_axis)
    return _scaled(name, key, shape, dtype, 1.0, "fan_in", distribution, axes)


@_law(complex_ok=True)
def lecun_uniform(
    key: Array,
    shape: Sequence[int],
    dtype: DType = jnp.float32,
    *,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
) -> Array:
    """LeCun uniform: U(-sqrt(3 / fan_in), +sqrt(3 / fan_in)), variance 1 / fan_in.

    LeCun et al. (1998), "Efficient BackProp". Same bits as
    ``jax.nn.initializers.lecun_uniform()``.
    """
    name = "lecun_uniform"
    axes = (in_axis, out_axis, batch_axis)
    return _scaled(name, key, shape, dtype, 1.0, "fan_in", "uniform", axes)


@_law(complex_ok=True)
def xavier_normal(
    key: Array,
    shape: Sequence[int],
    dtype: DType = jnp.float32,
    *,
    gain: float = 1.0,
    distribution: Literal["normal", "truncated_normal"] = "normal",
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
) -> Array:
    """Glorot/Xavier normal: N(0, gain^2 * 2 / (fan_in + fan_out)).

    Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward
    neural networks". ``distribution="truncated_normal"`` (with gain 1) gives the bits of
    ``jax.nn.initializers.glorot_normal()``.

    Example:
        >>> import jax, jinit
        >>> w = jinit.xavier_normal(jax.random.key(0), (256, 256))
        >>> round(float(w.std() * 16), 1)       # sqrt(2 / 512) = 1/16
        1.0
    """
    name = "xavier_normal"
    _check_normal_distribution(distribution, name)
    _check_gain(gain, name)
    axes = (in_axis, out_axis, batch_axis)
    return _scaled(name, key, shape, dtype, gain**2, "fan_avg", distribution, axes)


@_law(complex_ok=True)
def xavier_uniform(
    key: Array,
    shape: Sequence[int],
    dtype: DType = jnp.float32,
    *,
    gain: float = 1.0,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
) -> Array:
    """Glorot/Xavier uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).

    Glorot & Bengio (2010), their "normalized initialization" (eq. 16). Ng's ex4 rule
    eps = sqrt(6) / sqrt(L_in + L_out) is this law. Same bits as
    ``jax.nn.initializers.glorot_uniform()`` for gain 1.

    Example:
        >>> import jax, jinit
        >>> w = jinit.xavier_uniform(jax.random.key(0), (400, 25))
        >>> float(abs(w).max()) <= (6 / 425) ** 0.5
        True
    """
    name = "xavier_uniform"
    _check_gain(gain, name)
    axes = (in_axis, out_axis, batch_axis)
    return _scaled(name, key, shape, dtype, gain**2, "fan_avg", "uniform", axes)


def _he_scale(negative_slope: float, name: str) -> float:
    check_finite(negative_slope, "negative_slope", name)
    return 2.0 / (1.0 + negative_slope**2)


@_law(complex_ok=True)
def he_normal(
    key: Array,
    shape: Sequence[int],
    dtype: DType = jnp.float32,
    *,
    mode: Mode = "fan_in",
    negative_slope: float = 0.0,
    distribution: Literal["normal", "truncated_normal"] = "normal",
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
) -> Array:
    """He/Kaiming normal: N(0, 2 / ((1 + a^2) n)), n = fan_in by default, a = negative_slope.

    He et al. (2015), "Delving Deep into Rectifiers": keeps the activation variance
    constant through ReLU layers (a = 0) or leaky ReLUs of slope a. ``mode="fan_out"``
    preserves the backward signal instead. ``distribution="truncated_normal"`` gives the
    bits of ``jax.nn.initializers.he_normal()``.

    Example:
        >>> import functools, jax, jinit
        >>> init = functools.partial(jinit.he_normal, mode="fan_out")
        >>> init(jax.random.key(0), (3, 3, 16, 32)).shape
        (3, 3, 16, 32)
    """
    name = "he_normal"
    _check_normal_distribution(distribution, name)
    scale, axes = _he_scale(negative_slope, name), (in_axis, out_axis, batch_axis)
    return _scaled(name, key, shape, dtype, scale, mode, distribution, axes)


@_law(complex_ok=True)
def he_uniform(
    key: Array,
    shape: Sequence[int],
    dtype: DType = jnp.float32,
    *,
    mode: Mode = "fan_in",
    negative_slope: float = 0.0,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
) -> Array:
    """He/Kaiming uniform: U(-b, b) with b = sqrt(6 / ((1 + a^2) n)), n = fan_in by default.

    He et al. (2015). Same bits as ``jax.nn.initializers.he_uniform()`` for a = 0.
    """
    name = "he_uniform"
    scale, axes = _he_scale(negative_slope, name), (in_axis, out_axis, batch_axis)
    return _scaled(name, key, shape, dtype, scale, mode, "uniform", axes)


@_law()
def torch_default(
    key: Array,
    shape: Sequence[int],
    dtype: DType = jnp.float32,
    *,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
) -> Array:
    """PyTorch's default ``nn.Linear``/``nn.Conv*`` weight: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    This is ``kaiming_uniform_(w, a=sqrt(5))``: variance 1 / (3 fan_in). PyTorch keeps
    weights as ``(out, in, *k)``; for that layout pass ``in_axis=1, out_axis=0``.
    """
    fan_in, _ = fans(shape, in_axis, out_axis, batch_axis)
    if _is_empty(shape):
        return jnp.zeros(shape, dtype)
    return _symmetric_uniform(key, shape, dtype, _scalar(1.0 / math.sqrt(fan_in), dtype))


@_law()
def torch_default_bias(
    key: Array, shape: Sequence[int], dtype: DType = jnp.float32, *, fan_in: int
) -> Array:
    """PyTorch's default bias for ``nn.Linear``/``nn.Conv*``: U(-1/sqrt(fan_in), +1/sqrt(fan_in)).

    ``fan_in`` is the fan-in of the layer's weight (a bias has none of its own).

    Example:
        >>> import functools, jax, jinit
        >>> bias_init = functools.partial(jinit.torch_default_bias, fan_in=64)
        >>> float(abs(bias_init(jax.random.key(0), (128,))).max()) <= 1 / 8
        True
    """
    if isinstance(fan_in, bool) or not isinstance(fan_in, int | np.integer) or fan_in <= 0:
        raise ValueError(
            f"torch_default_bias: fan_in must be the weight's fan-in, a positive int; "
            f"got {fan_in!r}."
        )
    return _symmetric_uniform(key, shape, dtype, _scalar(1.0 / math.sqrt(fan_in), dtype))


# --------------------------------------------------------------------------- structured laws


@_law()
def orthogonal(
    key: Array,
    shape: Sequence[int],
    dtype: DType = jnp.float32,
    *,
    gain: float = 1.0,
    column_axis: int = -1,
) -> Array:
    """gain * Q, Q Haar-distributed with orthonormal columns (or rows, if fewer).

    Saxe, McClelland & Ganguli (2014), "Exact solutions to the nonlinear dynamics of learning
    in deep linear neural networks". The array is viewed as a matrix whose columns lie along
    ``column_axis`` and whose rows are all other axes flattened. Half-precision dtypes are
    drawn in float32 and cast. Same bits as ``jax.nn.initializers.orthogonal(gain)``.

    Example:
        >>> import jax, jax.numpy as jnp, jinit
        >>> q = jinit.orthogonal(jax.random.key(0), (64, 64))
        >>> bool(jnp.allclose(q.T @ q, jnp.eye(64), atol=1e-5))
        True
    """
    name = "orthogonal"
    _check_gain(gain, name)
    if len(shape) < 2:
        raise ValueError(
            f"{name}: needs a shape of at least 2 dimensions, got {shape}; for a bias use "
            "jinit.zeros."
        )
    if not -len(shape) <= column_axis < len(shape):
        raise ValueError(f"{name}: column_axis={column_axis} is out of range for shape {shape}.")
    if _is_empty(shape):
        return jnp.zeros(shape, dtype)
    draw_dtype = jnp.float32 if dtype in _HALF else dtype
    n_cols = shape[column_axis]
    n_rows = math.prod(shape) // n_cols
    q = jax.random.orthogonal(key, n_rows, (), draw_dtype, n_cols)
    q = jnp.reshape(q, (*tuple(np.delete(np.array(shape), column_axis)), n_cols))
    q = jnp.moveaxis(q, -1, column_axis)
    return (jnp.array(gain, draw_dtype) * q).astype(dtype)


@_law()
def delta_orthogonal(
    key: Array, shape: Sequence[int], dtype: DType = jnp.float32, *, gain: float = 1.0
) -> Array:
    """Delta-orthogonal conv kernel: zero except an orthogonal (in, out) matrix at the center tap.

    Xiao et al. (2018), "Dynamical Isometry and a Mean Field Theory of CNNs". For 3-D, 4-D or
    5-D kernels ``(*spatial, in, out)`` with in <= out. Same bits as
    ``jax.nn.initializers.delta_orthogonal(gain)``.

    Example:
        >>> import jax, jinit
        >>> w = jinit.delta_orthogonal(jax.random.key(0), (3, 3, 16, 16))
        >>> float(abs(w[0, 0]).max()), w[1, 1].shape
        (0.0, (16, 16))
    """
    name = "delta_orthogonal"
    _check_gain(gain, name)
    if len(shape) not in (3, 4, 5):
        raise ValueError(
            f"{name}: needs a 3-D, 4-D or 5-D conv kernel (*spatial, in, out), got shape {shape}."
        )
    if shape[-1] < shape[-2]:
        raise ValueError(
            f"{name}: needs in <= out channels (the center tap must be an isometry), got "
            f"in={shape[-2]}, out={shape[-1]}."
        )
    w = jnp.zeros(shape, dtype)
    if _is_empty(shape):
        return w
    center = tuple((k - 1) // 2 for k in shape[:-2])
    return w.at[center].set(orthogonal(key, shape[-2:], dtype, gain=gain))


@_law()
def identity(
    key: Array, shape: Sequence[int], dtype: DType = jnp.float32, *, gain: float = 1.0
) -> Array:
    """gain * I: ones on the main diagonal of an (in, out) matrix, zeros elsewhere.

    For a non-square shape the identity is padded with zeros (``jnp.eye(in, out)``). Used for
    residual and recurrent weights (Le et al. 2015, "IRNN"). ``key`` is ignored.

    Example:
        >>> import jax, jinit
        >>> jinit.identity(jax.random.key(0), (2, 3))
        Array([[1., 0., 0.],
               [0., 1., 0.]], dtype=float32)
    """
    name = "identity"
    _check_gain(gain, name)
    if len(shape) != 2:
        raise ValueError(f"{name}: needs a 2-D (in, out) shape, got {shape}.")
    return jnp.eye(shape[0], shape[1], dtype=dtype) * jnp.array(gain, dtype)


@_law()
def dirac(
    key: Array, shape: Sequence[int], dtype: DType = jnp.float32, *, groups: int = 1
) -> Array:
    """Dirac delta conv kernel: the convolution passes its input channels through unchanged.

    For a kernel ``(*spatial, in, out)`` (JAX/Flax layout, 3-D to 5-D), tap at the spatial
    center, ``w[center, d, g * out_per_group + d] = 1`` for each of ``groups`` groups and
    ``d < min(in, out_per_group)``; all else zero. As PyTorch's ``nn.init.dirac_``
    (Zagoruyko & Komodakis 2017, "DiracNets"). ``key`` is ignored.

    The center tap of a spatial axis of size ``k`` is ``(k - 1) // 2``, the tap that makes
    the convolution an identity under JAX's ``"SAME"`` padding (as
    :func:`delta_orthogonal`). For odd ``k`` this is PyTorch's ``k // 2``; for even ``k``
    PyTorch's tap is one further along.
    """
    name = "dirac"
    if len(shape) not in (3, 4, 5):
        raise ValueError(
            f"{name}: needs a 3-D, 4-D or 5-D conv kernel (*spatial, in, out), got shape {shape}."
        )
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}.")
    n_in, n_out = shape[-2], shape[-1]
    if n_out % groups:
        raise ValueError(f"{name}: out channels ({n_out}) must be divisible by groups ({groups}).")
    per_group = n_out // groups
    if _is_empty(shape):
        return jnp.zeros(shape, dtype)
    center = tuple((k - 1) // 2 for k in shape[:-2])
    w = np.zeros(shape, dtype=np.float32)
    for g in range(groups):
        for d in range(min(n_in, per_group)):
            w[(*center, d, g * per_group + d)] = 1.0
    return jnp.asarray(w, dtype)


@_law()
def sparse(
    key: Array,
    shape: Sequence[int],
    dtype: DType = jnp.float32,
    *,
    sparsity: float = 0.9,
    stddev: float = 0.01,
) -> Array:
    """Sparse init: N(0, stddev^2) with a fraction ``sparsity`` of each unit's inputs set to 0.

    Martens (2010), "Deep learning via Hessian-free optimization". For an (in, out) matrix,
    each column (the incoming weights of one output unit) gets exactly
    ``ceil(sparsity * in)`` zeros at uniformly random rows; the other entries are normal.

    Example:
        >>> import jax, jinit
        >>> w = jinit.sparse(jax.random.key(0), (10, 4), sparsity=0.5)
        >>> (w == 0).sum(axis=0).tolist()
        [5, 5, 5, 5]
    """
    name = "sparse"
    check_positive(stddev, "stddev", name)
    if isinstance(sparsity, jax.core.Tracer) or not 0 <= float(sparsity) <= 1:
        raise ValueError(f"{name}: sparsity must be a number in [0, 1], got {sparsity!r}.")
    if len(shape) != 2:
        raise ValueError(f"{name}: needs a 2-D (in, out) shape, got {shape}.")
    if _is_empty(shape):
        return jnp.zeros(shape, dtype)
    n_zeros = math.ceil(sparsity * shape[0])
    key_values, key_rows = jax.random.split(key)
    values = _scaled_normal(key_values, shape, dtype, _scalar(stddev, dtype))
    ranks = jnp.argsort(jax.random.uniform(key_rows, shape), axis=0).argsort(axis=0)
    return jnp.where(ranks < n_zeros, jnp.zeros((), dtype), values)


# Aliases under the other common names.
glorot_normal = xavier_normal
glorot_uniform = xavier_uniform
kaiming_normal = he_normal
kaiming_uniform = he_uniform
