"""Datasets for initialization experiments, as plain NumPy arrays.

Every loader returns a :class:`Dataset`: ``x_train, y_train, x_test, y_test`` with examples on
the first axis, ``x`` as float32 and ``y`` as int32 class indices (0/1 for binary tasks).

Three families:

* **Synthetic** (:func:`circles`, :func:`moons`, :func:`spirals`, :func:`planar`): generated
  with ``jax.random`` from an integer seed, deterministic, train and test drawn from
  independent sub-keys.
* **Course-exact** (:func:`coursera_circles`, :func:`planar_flower`): the exact arrays used in
  the deeplearning.ai Deep Learning Specialization notebooks, regenerated in plain NumPy with
  the same random streams (no scikit-learn needed).
* **Real** (:func:`digits`, shipped inside the package; :func:`mnist`, read from the standard
  idx files in a directory you supply).

:func:`get` and :func:`available` map names (for the command line) to loaders.
"""

from __future__ import annotations

import difflib
import functools
import gzip
import inspect
import math
import os
import zlib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from jinit._split import validation_mask

__all__ = [
    "Dataset",
    "available",
    "check_dataset",
    "circles",
    "coursera_circles",
    "digits",
    "get",
    "mnist",
    "moons",
    "planar",
    "planar_flower",
    "spirals",
]


# --------------------------------------------------------------------------------------------
# The container
# --------------------------------------------------------------------------------------------


class Dataset(NamedTuple):
    """A train/test split: ``x`` float32 with examples on axis 0, ``y`` int32 class indices.

    Build one from your own arrays with ``Dataset(x, y, xt, yt)`` (no checks, no casts) or,
    better, :meth:`Dataset.from_arrays`, which validates and casts.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None

    @classmethod
    def from_arrays(
        cls, x_train: ArrayLike, y_train: ArrayLike, x_test: ArrayLike, y_test: ArrayLike
    ) -> Dataset:
        """Validate user arrays and cast ``x`` to float32 and ``y`` to int32.

        ``x`` must be a real numeric array of shape ``(n, ...)`` (at least 2-D, finite);
        ``y`` must hold ``n`` integer-valued labels ``>= 0``, shaped ``(n,)`` or ``(n, 1)``
        (floats such as ``1.0`` are accepted, one-hot rows are not). Train and test must have
        the same feature shape. Raises ``ValueError`` saying what is wrong.
        """
        xs = _check_x(x_train, "x_train"), _check_x(x_test, "x_test")
        ys = _check_y(y_train, "y_train"), _check_y(y_test, "y_test")
        for split, x, y in (("train", xs[0], ys[0]), ("test", xs[1], ys[1])):
            if x.shape[0] != y.shape[0]:
                raise ValueError(
                    f"x_{split} has {x.shape[0]} examples but y_{split} has {y.shape[0]} "
                    "labels; they must have the same length (examples on the first axis)."
                )
        if xs[0].shape[1:] != xs[1].shape[1:]:
            raise ValueError(
                f"x_train examples have shape {xs[0].shape[1:]} but x_test examples have shape "
                f"{xs[1].shape[1:]}; they must match."
            )
        return cls(xs[0], ys[0], xs[1], ys[1])

    @property
    def n_classes(self) -> int:
        """Largest label in train and test, plus one (at least 2)."""
        top = max((int(y.max()) for y in (self.y_train, self.y_test) if np.size(y)), default=0)
        return max(top + 1, 2)

    @property
    def n_features(self) -> int:
        """Number of input features per example (product of ``x_train.shape[1:]``)."""
        return math.prod(np.shape(self.x_train)[1:])

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> Dataset:
        """The first ``n_train`` training and first ``n_test`` test examples (None: all)."""
        n_train = _check_take(n_train, len(self.x_train), "n_train", "training")
        n_test = _check_take(n_test, len(self.x_test), "n_test", "test")
        return self._replace(
            x_train=self.x_train[:n_train],
            y_train=self.y_train[:n_train],
            x_test=self.x_test[:n_test],
            y_test=self.y_test[:n_test],
        )

    def split_validation(self, fraction: float, seed: int = 0) -> Dataset:
        """``fraction`` of each class's training examples, drawn with ``seed``
        (:func:`jinit._split.validation_mask`), moved to ``x_val, y_val``: tune on them.

        Example:
            >>> import jinit
            >>> d = jinit.data.circles(n_train=100, n_test=10).split_validation(0.2)
            >>> len(d.x_train), len(d.x_val)
            (80, 20)
        """
        if self.x_val is not None:
            raise ValueError("split_validation: this dataset already has a validation split.")
        x, y = np.asarray(self.x_train), np.asarray(self.y_train)
        v = validation_mask(y, fraction, seed)
        return self._replace(x_train=x[~v], y_train=y[~v], x_val=x[v], y_val=y[v])

    def __repr__(self) -> str:
        def spec(a: Any) -> str:
            a = np.asarray(a)
            return f"{a.dtype}{list(a.shape)}"

        fields = ", ".join(f"{k}={spec(v)}" for k, v in self._asdict().items() if v is not None)
        return f"Dataset({fields})"


def check_dataset(data: Any, name: str = "data") -> Dataset:
    """``data`` if it is a usable :class:`Dataset`, else a one-line ``TypeError``/``ValueError``.

    For a raw ``Dataset(x, y, xt, yt)`` (built without :meth:`Dataset.from_arrays`): ``x`` at
    least 2-D and finite (the split is named), ``y`` of shape ``(n,)`` or ``(n, 1)`` with as
    many labels as examples, train and test with the same example shape. Nothing is cast.
    """
    if not isinstance(data, Dataset):
        raise TypeError(
            f"{name} must be a jinit.data.Dataset(x_train, y_train, x_test, y_test); "
            f"got {type(data).__name__}. Build one from arrays with Dataset.from_arrays."
        )
    if (data.x_val is None) != (data.y_val is None):
        raise ValueError(f"{name}: x_val and y_val must be given together (or neither).")
    shapes = {}
    for split in ("train", "test") if data.x_val is None else ("train", "test", "val"):
        x, y = np.asarray(getattr(data, f"x_{split}")), np.asarray(getattr(data, f"y_{split}"))
        if x.ndim < 2 or x.shape[0] < 1:
            raise ValueError(
                f"{name}.x_{split} must have shape (n_examples, n_features, ...) with n >= 1, "
                f"got shape {x.shape}."
            )
        integer = y.dtype.kind in "biu"
        if y.ndim < 1 or (integer and (y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1))):
            raise ValueError(
                f"{name}.y_{split} must hold one label per example, shape (n,) or (n, 1) "
                f"(float regression targets: (n, ...)), got shape {y.shape}."
            )
        if x.shape[0] != y.shape[0]:
            raise ValueError(
                f"{name}: the {split} split has {x.shape[0]} examples vs {y.shape[0]} labels "
                f"(x_{split} and y_{split} must have the same length)."
            )
        if x.dtype.kind not in "biuf" or (x.dtype.kind == "f" and not np.isfinite(x).all()):
            raise ValueError(
                f"{name}.x_{split} must be finite numbers; it contains NaN, inf or non-numbers "
                f"(dtype {x.dtype})."
            )
        shapes[split] = x.shape[1:]
    for split in shapes:
        if shapes[split] != shapes["train"]:
            raise ValueError(
                f"{name}: x_train examples have shape {shapes['train']} but x_{split} examples "
                f"have shape {shapes[split]}; they must match."
            )
    return data


def _check_x(x: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(
            f"{name} must be a numeric array (int, uint, float or bool), got dtype {arr.dtype}."
        )
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real, got complex dtype {arr.dtype}.")
    if arr.ndim < 2:
        raise ValueError(
            f"{name} must have shape (n_examples, n_features, ...), got shape {arr.shape}; "
            "for one feature per example use x.reshape(-1, 1)."
        )
    if arr.shape[0] < 1:
        raise ValueError(f"{name} must have at least one example, got shape {arr.shape}.")
    out = arr.astype(np.float32)
    if not np.isfinite(out).all():
        raise ValueError(f"{name} contains NaN or infinite values (after casting to float32).")
    return out


def _check_y(y: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be class indices of shape (n,) or (n, 1), got shape {arr.shape}; "
            "for one-hot labels pass y.argmax(axis=1)."
        )
    if arr.shape[0] < 1:
        raise ValueError(f"{name} must have at least one label, got none.")
    if np.issubdtype(arr.dtype, np.bool_):
        arr = arr.astype(np.int32)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must hold integer class labels, got dtype {arr.dtype}.")
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            raise ValueError(
                f"{name} must hold integer-valued class labels, got {arr[bad][0]!r} at index "
                f"{int(np.flatnonzero(bad)[0])}."
            )
    if arr.min() < 0:
        raise ValueError(f"{name} labels must be >= 0 (class indices 0..k-1), got {arr.min()!r}.")
    if arr.max() > np.iinfo(np.int32).max:
        raise ValueError(f"{name} labels must fit in int32, got {arr.max()!r}.")
    return arr.astype(np.int32)


def _check_take(n: int | None, available_n: int, name: str, what: str) -> int:
    if n is None:
        return available_n
    n = _check_int(n, name, minimum=1)
    if n > available_n:
        raise ValueError(f"{name}={n} but there are only {available_n} {what} examples.")
    return n


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


def _check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an int, got {type(value).__name__} {value!r}.")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}.")
    return value


def _check_float(value: Any, name: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a real number, got {type(value).__name__} {value!r}.")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value}.")
    return value


def _keys(seed: int) -> tuple[jax.Array, jax.Array]:
    """Independent (train, test) keys from an integer seed."""
    seed = _check_int(seed, "seed")
    try:
        key = jax.random.key(seed)
    except OverflowError as err:
        raise ValueError(f"seed must fit in a signed 64-bit int, got {seed}.") from err
    k_train, k_test = jax.random.split(key)
    return k_train, k_test


def _class_counts(n: int, k: int) -> list[int]:
    """Split ``n`` examples over ``k`` classes as evenly as possible (earlier classes +1)."""
    return [n // k + (j < n % k) for j in range(k)]


def _labels(counts: list[int]) -> jax.Array:
    return jnp.concatenate([jnp.full((c,), j, jnp.int32) for j, c in enumerate(counts)])


def _shuffled(key: jax.Array, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    perm = jax.random.permutation(key, x.shape[0])
    return x[perm].astype(jnp.float32), y[perm]


Sampler = Callable[..., tuple[jax.Array, jax.Array]]


def _split(sample: Sampler, n_train: int, n_test: int, seed: int, **params: Any) -> Dataset:
    """Draw train and test sets with ``sample(key, n, **params)`` from independent sub-keys."""
    minimum = params.get("k", 2)
    n_train = _check_int(n_train, "n_train", minimum=minimum)
    n_test = _check_int(n_test, "n_test", minimum=minimum)
    k_train, k_test = _keys(seed)
    x_train, y_train = sample(k_train, n_train, **params)
    x_test, y_test = sample(k_test, n_test, **params)
    # np.array copies: arrays viewed from JAX buffers would be read-only.
    return Dataset(
        np.array(x_train, np.float32),
        np.array(y_train, np.int32),
        np.array(x_test, np.float32),
        np.array(y_test, np.int32),
    )


# --------------------------------------------------------------------------------------------
# Synthetic datasets (JAX, from a seed)
# --------------------------------------------------------------------------------------------
# Each sampler is compiled once per example count; noise and shape parameters are traced.


@functools.partial(jax.jit, static_argnames="n")
def _sample_circles(
    key: jax.Array, n: int, noise: float, factor: float
) -> tuple[jax.Array, jax.Array]:
    k_angle, k_noise, k_perm = jax.random.split(key, 3)
    y = _labels([n // 2, n - n // 2])
    radius = jnp.where(y == 0, 1.0, factor)
    angle = jax.random.uniform(k_angle, (n,), maxval=2 * jnp.pi)
    x = radius[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
    x = x + noise * jax.random.normal(k_noise, (n, 2))
    return _shuffled(k_perm, x, y)


def circles(
    n_train: int = 300, n_test: int = 100, noise: float = 0.05, factor: float = 0.8, seed: int = 0
) -> Dataset:
    """Two concentric circles: class 0 on radius 1, class 1 on radius ``factor``.

    Angles are uniform on ``[0, 2π)``; Gaussian noise of standard deviation ``noise`` is added
    to both coordinates (as in ``sklearn.datasets.make_circles``, which uses evenly spaced
    angles instead). Classes are balanced (an odd count gives class 1 the extra point) and the
    examples are shuffled. Generated with ``jax.random`` from ``seed``; train and test come from
    independent sub-keys. For the exact Coursera arrays see :func:`coursera_circles`.
    """
    noise = _check_float(noise, "noise")
    factor = _check_float(factor, "factor")
    if not factor < 1:
        raise ValueError(f"factor (inner radius) must be in [0, 1), got {factor}.")
    return _split(_sample_circles, n_train, n_test, seed, noise=noise, factor=factor)


@functools.partial(jax.jit, static_argnames="n")
def _sample_moons(key: jax.Array, n: int, noise: float) -> tuple[jax.Array, jax.Array]:
    k_angle, k_noise, k_perm = jax.random.split(key, 3)
    y = _labels([n // 2, n - n // 2])
    t = jax.random.uniform(k_angle, (n,), maxval=jnp.pi)
    upper = jnp.stack([jnp.cos(t), jnp.sin(t)], axis=1)
    lower = jnp.stack([1 - jnp.cos(t), 0.5 - jnp.sin(t)], axis=1)
    x = jnp.where((y == 0)[:, None], upper, lower)
    x = x + noise * jax.random.normal(k_noise, (n, 2))
    return _shuffled(k_perm, x, y)


def moons(n_train: int = 300, n_test: int = 100, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Two interleaving half circles (the shape of ``sklearn.datasets.make_moons``).

    Class 0 is ``(cos t, sin t)`` and class 1 is ``(1 - cos t, 0.5 - sin t)`` with ``t``
    uniform on ``[0, π]``, plus Gaussian noise of standard deviation ``noise``. Balanced
    classes, shuffled; generated with ``jax.random`` from ``seed``, train and test from
    independent sub-keys.
    """
    noise = _check_float(noise, "noise")
    return _split(_sample_moons, n_train, n_test, seed, noise=noise)


@functools.partial(jax.jit, static_argnames=("n", "k"))
def _sample_spirals(key: jax.Array, n: int, noise: float, k: int) -> tuple[jax.Array, jax.Array]:
    k_pos, k_noise, k_perm = jax.random.split(key, 3)
    y = _labels(_class_counts(n, k))
    u = jax.random.uniform(k_pos, (n,))
    t = 2 * jnp.pi * y / k + 4 * u + noise * jax.random.normal(k_noise, (n,))
    x = u[:, None] * jnp.stack([jnp.sin(t), jnp.cos(t)], axis=1)
    return _shuffled(k_perm, x, y)


def spirals(
    n_train: int = 300, n_test: int = 100, noise: float = 0.2, n_classes: int = 2, seed: int = 0
) -> Dataset:
    """``n_classes`` interleaved spiral arms (the CS231n spiral, with random positions).

    For a point of class ``k`` with ``u`` uniform on ``[0, 1]``: radius ``r = u`` and angle
    ``t = 2πk/n_classes + 4u + noise·ε`` with ``ε`` standard normal, and ``x = r·(sin t, cos t)``
    (so ``noise`` is in radians, blurring the arms most near the center). Classes are balanced
    (earlier classes get any extra point) and shuffled. Generated with ``jax.random`` from
    ``seed``; train and test from independent sub-keys. Each split needs at least
    ``n_classes`` examples.
    """
    noise = _check_float(noise, "noise")
    k = _check_int(n_classes, "n_classes", minimum=2)
    return _split(_sample_spirals, n_train, n_test, seed, noise=noise, k=k)


@functools.partial(jax.jit, static_argnames="n")
def _sample_planar(key: jax.Array, n: int, noise: float) -> tuple[jax.Array, jax.Array]:
    k_t, k_r, k_perm = jax.random.split(key, 3)
    counts = _class_counts(n, 2)
    y = _labels(counts)
    base = jnp.concatenate(
        [jnp.linspace(j * 3.12, (j + 1) * 3.12, c) for j, c in enumerate(counts)]
    )
    t = base + noise * jax.random.normal(k_t, (n,))
    r = 4 * jnp.sin(4 * t) + noise * jax.random.normal(k_r, (n,))
    x = jnp.stack([r * jnp.sin(t), r * jnp.cos(t)], axis=1)
    return _shuffled(k_perm, x, y)


def planar(n_train: int = 400, n_test: int = 400, noise: float = 0.2, seed: int = 0) -> Dataset:
    """The "flower" of Coursera DLS course 1 week 3, generated in JAX from ``seed``.

    For class ``j`` in {0, 1} with ``N`` points: ``t = linspace(3.12j, 3.12(j+1), N) +
    noise·ε₁``, ``r = 4 sin(4t) + noise·ε₂``, ``x = (r sin t, r cos t)``, with ``ε`` standard
    normal. Classes are balanced and shuffled; train and test use independent sub-keys. For the
    course's exact arrays see :func:`planar_flower`.
    """
    noise = _check_float(noise, "noise")
    return _split(_sample_planar, n_train, n_test, seed, noise=noise)


# --------------------------------------------------------------------------------------------
# Course-exact datasets (NumPy, fixed legacy random streams)
# --------------------------------------------------------------------------------------------


def _make_circles_legacy(
    n_samples: int, noise: float, factor: float, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.datasets.make_circles(n_samples, noise=noise, factor=factor)`` (shuffled).

    Same arithmetic and the same order of calls on ``rng`` as scikit-learn: evenly spaced
    angles (outer circle first, label 0), one in-place ``rng.shuffle`` of the row indices, then
    ``rng.normal(scale=noise, size=(n, 2))`` added to the shuffled points.
    """
    n_out = n_samples // 2
    n_in = n_samples - n_out
    angle_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    angle_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    x = np.vstack(
        [
            np.append(np.cos(angle_out), np.cos(angle_in) * factor),
            np.append(np.sin(angle_out), np.sin(angle_in) * factor),
        ]
    ).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    order = np.arange(n_samples)
    rng.shuffle(order)
    x, y = x[order], y[order]
    x += rng.normal(scale=noise, size=x.shape)
    return x, y


def coursera_circles() -> Dataset:
    """The exact circles of Coursera DLS course 2 week 1, "Initialization" (``load_dataset``).

    The notebook runs ``np.random.seed(1); make_circles(n_samples=300, noise=.05)`` for the
    training set and ``np.random.seed(2); make_circles(n_samples=100, noise=.05)`` for the test
    set (scikit-learn's defaults: ``factor=0.8``, ``shuffle=True``, global NumPy RNG). This
    function replays those streams with ``np.random.RandomState(1)`` / ``RandomState(2)``
    without importing scikit-learn, giving the same numbers bit for bit (before the cast to
    float32): 300 training points (150 per class) and 100 test points (50 per class). The
    notebook stores them as ``(2, m)``; here examples are on the first axis.
    """
    x_train, y_train = _make_circles_legacy(300, 0.05, 0.8, np.random.RandomState(1))
    x_test, y_test = _make_circles_legacy(100, 0.05, 0.8, np.random.RandomState(2))
    return Dataset.from_arrays(x_train, y_train, x_test, y_test)


def planar_flower() -> Dataset:
    """The exact "flower" of Coursera DLS course 1 week 3 (``load_planar_dataset``).

    400 points, 200 per class, class 0 first, from ``np.random.seed(1)`` (replayed here with
    ``np.random.RandomState(1)``, the same stream): for class ``j``, ``t = linspace(3.12j,
    3.12(j+1), 200) + 0.2·randn``, ``r = 4 sin(4t) + 0.2·randn``, ``x = (r sin t, r cos t)``.
    The course has no test set and reports accuracy on the training set, so the test split is
    the training set itself: ``Dataset(X, Y, X, Y)``. For fresh draws see :func:`planar`.
    """
    rng = np.random.RandomState(1)
    m, n_per, dim, a = 400, 200, 2, 4
    x = np.zeros((m, dim))
    y = np.zeros((m, 1), dtype=np.uint8)
    for j in range(2):
        ix = slice(n_per * j, n_per * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, n_per) + rng.randn(n_per) * 0.2
        r = a * np.sin(4 * t) + rng.randn(n_per) * 0.2
        x[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = j
    return Dataset.from_arrays(x, y, x, y)  # from_arrays copies: train and test don't alias


# --------------------------------------------------------------------------------------------
# Real datasets
# --------------------------------------------------------------------------------------------

DIGITS_SIZE = 1797


def digits(test_size: int = 360, seed: int = 0, *, flatten: bool = True) -> Dataset:
    """Scikit-learn's 8×8 handwritten digits (the UCI optdigits test set), 10 classes.

    1797 grayscale images with pixel counts 0..16, scaled to ``[0, 1]`` by dividing by 16;
    ``flatten=True`` gives 64 features per example, ``flatten=False`` shape ``(n, 8, 8, 1)``.
    The arrays ship inside the package (``jinit/_data/digits.npz``, a copy of
    ``sklearn.datasets.load_digits()``), so no download and no scikit-learn are needed.

    Split: the examples are reordered by ``np.random.default_rng(seed).permutation(1797)``
    and the last ``test_size`` of them form the test set.
    """
    test_size = _check_int(test_size, "test_size", minimum=1)
    if test_size >= DIGITS_SIZE:
        raise ValueError(
            f"test_size must be between 1 and {DIGITS_SIZE - 1} (digits has {DIGITS_SIZE} "
            f"examples and the training set needs at least one), got {test_size}."
        )
    seed = _check_int(seed, "seed", minimum=0)
    with resources.files("jinit").joinpath("_data/digits.npz").open("rb") as f, np.load(f) as z:
        images, labels = z["images"], z["labels"]
    order = np.random.default_rng(seed).permutation(len(images))
    x = images[order].astype(np.float32) / np.float32(16)
    if not flatten:
        x = x.reshape(-1, 8, 8, 1)
    y = labels[order].astype(np.int32)
    cut = len(order) - test_size
    return Dataset(x[:cut], y[:cut], x[cut:], y[cut:])


MNIST_ENV = "JINIT_MNIST"
_MNIST_FILES = {
    "train-images": "idx3",
    "train-labels": "idx1",
    "t10k-images": "idx3",
    "t10k-labels": "idx1",
}
_IDX_MAGIC = {"idx3": 2051, "idx1": 2049}
MNIST_SPLITS = ("standard", "nielsen")


def _idx_candidates(stem: str) -> list[str]:
    kind = _MNIST_FILES[stem]
    names = [f"{stem}-{kind}-ubyte", f"{stem}.{kind}-ubyte"]
    return [n + ext for n in names for ext in ("", ".gz")]


def _find_idx(directory: Path, stems: list[str]) -> dict[str, Path]:
    found, missing = {}, []
    for stem in stems:
        hits = [directory / n for n in _idx_candidates(stem) if (directory / n).is_file()]
        if hits:
            found[stem] = hits[0]
        else:
            missing.append(" or ".join(_idx_candidates(stem)))
    if missing:
        raise FileNotFoundError(
            f"MNIST directory {str(directory)!r} lacks: {'; '.join(missing)}. Put the four "
            "standard idx files (raw or .gz) there, or point mnist(path=...) or the "
            f"${MNIST_ENV} environment variable at the directory that has them."
        )
    return found


def _read_idx(path: Path, kind: str) -> np.ndarray:
    """Parse one idx file (gzip or raw): images ``(n, rows, cols)`` or labels ``(n,)``, uint8."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{path}: corrupt gzip data ({err}).") from err
    ndim = 3 if kind == "idx3" else 1
    header = 4 * (1 + ndim)
    if len(raw) < header:
        raise ValueError(
            f"{path}: not an idx file, only {len(raw)} bytes (the header alone is {header})."
        )
    magic, *dims = (int(v) for v in np.frombuffer(raw, ">u4", count=1 + ndim))
    want = _IDX_MAGIC[kind]
    if magic != want:
        what = "images" if kind == "idx3" else "labels"
        raise ValueError(
            f"{path}: bad magic number {magic} (expected {want} for uint8 {what} in idx format)."
        )
    size = math.prod(dims)
    if len(raw) - header != size:
        state = "truncated" if len(raw) - header < size else "has trailing bytes"
        raise ValueError(
            f"{path}: {state}: the header announces {' x '.join(map(str, dims))} = {size} "
            f"bytes of data, the file holds {len(raw) - header}."
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _read_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = _read_idx(images_path, "idx3")
    labels = _read_idx(labels_path, "idx1")
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
            "labels; they must match."
        )
    return images, labels


def mnist(
    path: str | os.PathLike[str] | None = None,
    *,
    split: str = "standard",
    scale: float = 1 / 255,
    flatten: bool = True,
) -> Dataset:
    """MNIST handwritten digits (LeCun, Cortes & Burges), read from the standard idx files.

    ``path`` is a directory holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (or the ``.idx3-ubyte`` /
    ``.idx1-ubyte`` spelling), each raw or gzipped (``.gz``). With ``path=None`` the directory
    is taken from the ``JINIT_MNIST`` environment variable. Nothing is downloaded.

    ``split="standard"``: the 60000 training and 10000 test images. ``split="nielsen"``: the
    split of Nielsen's *Neural Networks and Deep Learning* (``mnist.pkl.gz``), the first 50000
    training images for training and the last 10000 training images (his validation set) as
    the test set; only the training files are read, and they must hold exactly 60000 images.
    Nielsen scales pixels by ``x / 256``: pass ``scale=1/256`` to reproduce his inputs.

    Pixels (0..255) are multiplied by ``scale`` (default ``1/255``, giving ``[0, 1]``).
    ``flatten=True`` gives ``(n, 784)``, ``flatten=False`` gives ``(n, 28, 28, 1)``.

    Raises ``FileNotFoundError`` if the directory or a file is missing, ``ValueError`` if a
    file is malformed (bad magic number, truncated, image/label counts differ).
    """
    if split not in MNIST_SPLITS:
        raise ValueError(
            f"split must be one of {', '.join(map(repr, MNIST_SPLITS))}; got {split!r}."
        )
    scale = _check_float(scale, "scale", positive=True)
    stems = list(_MNIST_FILES) if split == "standard" else ["train-images", "train-labels"]
    looked_for = ", ".join(_idx_candidates(s)[0] for s in stems)
    source = "the path argument"
    if path is None:
        source = f"${MNIST_ENV}"
        env = os.environ.get(MNIST_ENV)
        if not env:
            raise FileNotFoundError(
                f"mnist(): no directory given and ${MNIST_ENV} is not set. Pass "
                f"mnist(path='DIR') or set {MNIST_ENV}=DIR, where DIR holds {looked_for} "
                "(raw or .gz, '-idx' or '.idx' spelling)."
            )
        path = env
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(
            f"MNIST directory {str(directory)!r} (from {source}) does not exist or is not a "
            f"directory. It should hold {looked_for} (raw or .gz); pass mnist(path=...) or "
            f"set ${MNIST_ENV}."
        )
    files = _find_idx(directory, stems)
    x_train, y_train = _read_pair(files["train-images"], files["train-labels"])
    if split == "standard":
        x_test, y_test = _read_pair(files["t10k-images"], files["t10k-labels"])
    else:
        if len(x_train) != 60000:
            raise ValueError(
                f"split='nielsen' needs the full 60000-image MNIST training set, but "
                f"{files['train-images']} holds {len(x_train)} images; use split='standard'."
            )
        x_test, y_test = x_train[50000:], y_train[50000:]
        x_train, y_train = x_train[:50000], y_train[:50000]

    def prepare(images: np.ndarray) -> np.ndarray:
        x = images.astype(np.float32)
        x *= np.float32(scale)
        return x.reshape(len(x), -1) if flatten else x[..., None]

    return Dataset(
        prepare(x_train), y_train.astype(np.int32), prepare(x_test), y_test.astype(np.int32)
    )


# --------------------------------------------------------------------------------------------
# Name registry
# --------------------------------------------------------------------------------------------

_LOADERS: dict[str, Callable[..., Dataset]] = {
    "circles": circles,
    "moons": moons,
    "spirals": spirals,
    "planar": planar,
    "coursera-circles": coursera_circles,
    "planar-flower": planar_flower,
    "digits": digits,
    "mnist": mnist,
}


def available() -> tuple[str, ...]:
    """Names accepted by :func:`get`."""
    return tuple(_LOADERS)


def get(name: str, **kwargs: Any) -> Dataset:
    """Load a dataset by name (see :func:`available`), passing ``kwargs`` to its loader.

    Names are case-insensitive and ``_`` may stand for ``-`` (``"coursera_circles"``).
    """
    if not isinstance(name, str):
        raise ValueError(f"dataset name must be a str, got {type(name).__name__} {name!r}.")
    key = name.strip().lower().replace("_", "-")
    if key not in _LOADERS:
        close = difflib.get_close_matches(key, _LOADERS, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"unknown dataset {name!r}.{hint} Accepted: {', '.join(_LOADERS)}.")
    loader = _LOADERS[key]
    signature = inspect.signature(loader)
    try:
        signature.bind(**kwargs)
    except TypeError as err:
        accepted = ", ".join(signature.parameters) or "none"
        raise TypeError(
            f"dataset {key!r}: {err}. Accepted keyword arguments: {accepted}."
        ) from None
    return loader(**kwargs)


# --------------------------------------------------------------------------------------------
# Image (NHWC) and sequence data for the conv, residual and attention models
# --------------------------------------------------------------------------------------------


def digits_images(test_size: int = 360, seed: int = 0) -> Dataset:
    """:func:`digits` as NHWC images ``(n, 8, 8, 1)`` (``digits(flatten=False)``)."""
    return digits(test_size, seed, flatten=False)


def mnist_images(
    path: str | os.PathLike[str] | None = None, *, split: str = "standard", scale: float = 1 / 255
) -> Dataset:
    """:func:`mnist` as NHWC images ``(n, 28, 28, 1)`` (``mnist(..., flatten=False)``)."""
    return mnist(path, split=split, scale=scale, flatten=False)


def modular_addition(
    p: int = 23, n_train: int | None = None, n_test: int | None = None, seed: int = 0
) -> Dataset:
    """Modular addition, the grokking task of Power et al. (2022): ``[a, b, =] -> (a + b) mod p``.

    All ``p * p`` pairs ``0 <= a, b < p`` as token sequences ``[a, b, p]`` (token ``p`` is
    ``=``; vocabulary ``p + 1``, sequence length 3), stored as float32 like every ``x`` (a
    :class:`jinit.models.Transformer` casts them back to ints); labels ``(a + b) mod p``, ``p``
    classes. The pairs are ordered by ``np.random.default_rng(seed).permutation(p * p)``: the
    first ``n_train`` (default 80%) train, the next ``n_test`` (default: the rest) test.

    Example:
        >>> import jinit
        >>> d = jinit.data.modular_addition(p=5)
        >>> d.x_train.shape, d.x_test.shape, d.n_classes
        ((20, 3), (5, 3), 5)
        >>> a, b, eq = d.x_train[0].astype(int)
        >>> bool(d.y_train[0] == (a + b) % 5 and eq == 5)
        True
    """
    p = _check_int(p, "p", minimum=2)
    seed = _check_int(seed, "seed", minimum=0)
    total = p * p
    n_train = round(0.8 * total) if n_train is None else _check_int(n_train, "n_train", minimum=1)
    n_test = total - n_train if n_test is None else _check_int(n_test, "n_test", minimum=1)
    if n_train + n_test > total or n_test < 1:
        raise ValueError(
            f"n_train + n_test must be at most p * p = {total} with n_test >= 1, got n_train="
            f"{n_train}, n_test={n_test}."
        )
    a, b = np.divmod(np.random.default_rng(seed).permutation(total), p)
    x = np.stack([a, b, np.full_like(a, p)], axis=1).astype(np.float32)
    y = ((a + b) % p).astype(np.int32)
    cut = n_train + n_test
    return Dataset(x[:n_train], y[:n_train], x[n_train:cut], y[n_train:cut])


_LOADERS.update(
    {"digits-images": digits_images, "mnist-images": mnist_images,
     "modular-addition": modular_addition}
)  # fmt: skip
__all__ += ["digits_images", "mnist_images", "modular_addition"]
