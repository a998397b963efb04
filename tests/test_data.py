"""Tests for jinit.data, checked against independent sources (scikit-learn, the course code)."""

from __future__ import annotations

import contextlib
import gzip
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from jinit import data
from jinit.data import Dataset

REPO = Path(__file__).resolve().parents[1]
MNIST_DIRS = [Path("/work/shared/data/mnist"), REPO.parent / "shared" / "data" / "mnist"]
REAL_MNIST = next((d for d in MNIST_DIRS if d.is_dir()), None)

# One size for the synthetic sets: each new example count costs a JAX compile.
N_TRAIN, N_TEST = 51, 20
SYNTHETIC = {
    "circles": data.circles,
    "moons": data.moons,
    "spirals": data.spirals,
    "planar": data.planar,
}


# --------------------------------------------------------------------------------------------
# Dataset container
# --------------------------------------------------------------------------------------------


def test_dataset_from_arrays_casts_and_properties():
    x = np.arange(12, dtype=np.int64).reshape(6, 2)
    y = np.array([[0.0], [1.0], [2.0], [0.0], [1.0], [2.0]])  # (n, 1) float labels
    ds = Dataset.from_arrays(x, y, x[:2], [True, False])
    assert ds.x_train.dtype == np.float32 and ds.x_test.dtype == np.float32
    assert ds.y_train.dtype == np.int32 and ds.y_test.dtype == np.int32
    assert ds.y_train.shape == (6,)
    np.testing.assert_array_equal(ds.y_train, [0, 1, 2, 0, 1, 2])
    np.testing.assert_array_equal(ds.x_train, x.astype(np.float32))
    assert ds.n_classes == 3
    assert ds.n_features == 2
    assert "float32[6, 2]" in repr(ds)


def test_dataset_plain_constructor_and_properties():
    x = np.zeros((4, 3, 5), np.float32)
    ds = Dataset(x, np.zeros(4, np.int32), x, np.zeros(4, np.int32))
    assert ds.n_classes == 2  # at least 2 even if only class 0 appears
    assert ds.n_features == 15
    ds = Dataset(x, np.zeros(4, np.int32), x, np.array([0, 0, 0, 7], np.int32))
    assert ds.n_classes == 8  # test labels count too


def test_dataset_subset():
    ds = data.circles(n_train=N_TRAIN, n_test=N_TEST)
    sub = ds.subset(5, 3)
    assert isinstance(sub, Dataset)
    np.testing.assert_array_equal(sub.x_train, ds.x_train[:5])
    np.testing.assert_array_equal(sub.y_test, ds.y_test[:3])
    assert ds.subset(n_test=4).x_train.shape == (N_TRAIN, 2)
    assert ds.subset().x_test.shape == (N_TEST, 2)
    with pytest.raises(ValueError, match=rf"n_train={N_TRAIN + 1} but there are only {N_TRAIN} tr"):
        ds.subset(N_TRAIN + 1)
    with pytest.raises(ValueError, match=r"n_test must be an int >= 1"):
        ds.subset(n_test=0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.zeros((3, 2)), [0, 1], np.zeros((1, 2)), [0]), r"x_train has 3 examples but y_train"),
        ((np.zeros((0, 2)), [], np.zeros((1, 2)), [0]), r"x_train must have at least one"),
        ((np.array([["a", "b"]]), [0], np.zeros((1, 2)), [0]), r"x_train must be a numeric"),
        ((np.zeros((1, 2)), [0], np.zeros((1, 2)), [-1]), r"y_test labels must be >= 0"),
        ((np.zeros((1, 2)), [0.5], np.zeros((1, 2)), [0]), r"integer-valued class labels"),
        ((np.zeros((1, 2)), [[0, 1]], np.zeros((1, 2)), [0]), r"one-hot labels"),
        ((np.zeros(3), [0, 1, 0], np.zeros((1, 2)), [0]), r"reshape\(-1, 1\)"),
        ((np.zeros((1, 2)), [0], np.zeros((1, 3)), [0]), r"must match"),
        ((np.full((1, 2), np.nan), [0], np.zeros((1, 2)), [0]), r"NaN or infinite"),
        ((np.zeros((1, 2)), ["x"], np.zeros((1, 2)), [0]), r"integer class labels"),
    ],
)
def test_dataset_from_arrays_errors(args, message):
    with pytest.raises(ValueError, match=message):
        Dataset.from_arrays(*args)


# --------------------------------------------------------------------------------------------
# Synthetic datasets
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SYNTHETIC))
def test_synthetic_shapes_dtypes_balance(name):
    ds = SYNTHETIC[name](n_train=N_TRAIN, n_test=N_TEST, seed=3)
    assert ds.x_train.shape == (N_TRAIN, 2) and ds.x_test.shape == (N_TEST, 2)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert isinstance(ds.x_train, np.ndarray) and isinstance(ds.y_test, np.ndarray)
    assert ds.x_val is None and ds.y_val is None  # no validation split unless asked for
    assert all(a.flags.writeable for a in ds[:4])  # plain NumPy, not read-only JAX views
    assert ds.n_classes == 2
    counts = np.bincount(ds.y_train)
    assert counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(np.bincount(ds.y_test), [10, 10])
    assert np.isfinite(ds.x_train).all()
    # shuffled: labels are not sorted by class
    assert not np.all(np.diff(ds.y_train) >= 0)


@pytest.mark.parametrize("name", list(SYNTHETIC))
def test_synthetic_determinism(name):
    make = SYNTHETIC[name]
    a, b, c = (make(n_train=N_TRAIN, n_test=N_TEST, seed=s) for s in (7, 7, 8))
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a.x_train, c.x_train)
    # train and test come from independent sub-keys
    n = min(len(a.x_train), len(a.x_test))
    assert not np.allclose(a.x_train[:n], a.x_test[:n])


def test_circles_radii_without_noise():
    ds = data.circles(n_train=N_TRAIN, n_test=N_TEST, noise=0.0, factor=0.8, seed=1)
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        r = np.linalg.norm(x, axis=1)
        np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-6)
        np.testing.assert_allclose(r[y == 1], 0.8, atol=1e-6)
    noisy = data.circles(n_train=N_TRAIN, n_test=N_TEST, noise=0.05, factor=0.5, seed=1)
    r = np.linalg.norm(noisy.x_train, axis=1)
    assert abs(r[noisy.y_train == 0].mean() - 1.0) < 0.04  # 25 points, sd of mean ~0.01
    assert abs(r[noisy.y_train == 1].mean() - 0.5) < 0.04
    assert r.std() > 0.2


def test_moons_without_noise_lie_on_half_circles():
    ds = data.moons(n_train=N_TRAIN, n_test=N_TEST, noise=0.0)
    x, y = ds.x_train, ds.y_train
    np.testing.assert_allclose(np.linalg.norm(x[y == 0], axis=1), 1.0, atol=1e-6)
    assert (x[y == 0, 1] >= -1e-6).all()
    centre = np.array([1.0, 0.5], np.float32)
    np.testing.assert_allclose(np.linalg.norm(x[y == 1] - centre, axis=1), 1.0, atol=1e-6)
    assert (x[y == 1, 1] <= 0.5 + 1e-6).all()


def test_spirals_many_classes():
    ds = data.spirals(n_train=301, n_test=30, n_classes=3, noise=0.0)
    np.testing.assert_array_equal(np.bincount(ds.y_train), [101, 100, 100])
    np.testing.assert_array_equal(np.bincount(ds.y_test), [10, 10, 10])
    assert ds.n_classes == 3
    assert np.linalg.norm(ds.x_train, axis=1).max() <= 1 + 1e-6


def test_planar_without_noise_follows_the_flower():
    ds = data.planar(n_train=N_TRAIN, n_test=N_TEST, noise=0.0)
    x = ds.x_train
    t = np.arctan2(x[:, 0], x[:, 1])  # x = r (sin t, cos t), up to the sign of r
    r = np.linalg.norm(x, axis=1)
    np.testing.assert_allclose(r, np.abs(4 * np.sin(4 * t)), atol=1e-4)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: data.circles(n_train=1), r"n_train must be an int >= 2, got 1"),
        (lambda: data.moons(n_test=2.5), r"n_test must be an int"),
        (lambda: data.circles(factor=1.0), r"factor .* must be in \[0, 1\)"),
        (lambda: data.moons(noise=-0.1), r"noise must be a finite number >= 0"),
        (lambda: data.spirals(n_classes=1), r"n_classes must be an int >= 2"),
        (lambda: data.spirals(n_train=3, n_classes=4), r"n_train must be an int >= 4"),
        (lambda: data.planar(seed="a"), r"seed must be an int"),
        (lambda: data.planar(seed=2**70), r"seed must fit in a signed 64-bit int"),
    ],
)
def test_synthetic_argument_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --------------------------------------------------------------------------------------------
# Course-exact datasets
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _global_numpy_rng() -> Iterator[None]:
    """Let a block use NumPy's global RNG (as the course notebooks do), then restore it."""
    state = np.random.get_state()
    try:
        yield
    finally:
        np.random.set_state(state)


def test_coursera_circles_matches_sklearn_exactly():
    sk = pytest.importorskip("sklearn.datasets")
    # The notebook's load_dataset, verbatim apart from the transposes.
    with _global_numpy_rng():
        np.random.seed(1)
        x_train, y_train = sk.make_circles(n_samples=300, noise=0.05)
        np.random.seed(2)
        x_test, y_test = sk.make_circles(n_samples=100, noise=0.05)
    ds = data.coursera_circles()
    assert np.array_equal(ds.x_train, x_train.astype(np.float32))
    assert np.array_equal(ds.y_train, y_train)
    assert np.array_equal(ds.x_test, x_test.astype(np.float32))
    assert np.array_equal(ds.y_test, y_test)
    np.testing.assert_array_equal(np.bincount(ds.y_train), [150, 150])
    np.testing.assert_array_equal(np.bincount(ds.y_test), [50, 50])
    # bit for bit before the float32 cast, too
    x64, y64 = data._make_circles_legacy(300, 0.05, 0.8, np.random.RandomState(1))
    assert np.array_equal(x64, x_train) and np.array_equal(y64, y_train)


def test_coursera_circles_leaves_global_rng_alone():
    with _global_numpy_rng():
        np.random.seed(123)
        before = np.random.random(3)
        np.random.seed(123)
        data.coursera_circles()
        data.planar_flower()
        assert np.array_equal(np.random.random(3), before)


def test_planar_flower_matches_course_code():
    # The course's load_planar_dataset, with the global RNG as the notebook uses it.
    with _global_numpy_rng():
        np.random.seed(1)
        m, n, a = 400, 200, 4
        x_ref = np.zeros((m, 2))
        y_ref = np.zeros((m, 1), dtype="uint8")
        for j in range(2):
            ix = range(n * j, n * (j + 1))
            t = np.linspace(j * 3.12, (j + 1) * 3.12, n) + np.random.randn(n) * 0.2
            r = a * np.sin(4 * t) + np.random.randn(n) * 0.2
            x_ref[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
            y_ref[ix] = j
    ds = data.planar_flower()
    assert np.array_equal(ds.x_train, x_ref.astype(np.float32))
    assert np.array_equal(ds.y_train, y_ref[:, 0].astype(np.int32))
    assert np.array_equal(ds.x_test, ds.x_train) and np.array_equal(ds.y_test, ds.y_train)
    assert ds.x_test is not ds.x_train  # no aliasing between the splits
    np.testing.assert_array_equal(np.bincount(ds.y_train), [200, 200])


# --------------------------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------------------------


def _sorted_rows(images: np.ndarray, labels: np.ndarray) -> list[bytes]:
    """The multiset of (image, label) rows, for comparing splits irrespective of order."""
    return sorted(map(bytes, np.c_[images, labels].astype(np.uint8)))


def test_digits_matches_sklearn():
    sk = pytest.importorskip("sklearn.datasets")
    ref = sk.load_digits()
    ds = data.digits()
    assert ds.x_train.shape == (1437, 64) and ds.x_test.shape == (360, 64)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert ds.n_classes == 10 and ds.n_features == 64
    x = np.concatenate([ds.x_train, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    assert 0.0 <= x.min() and x.max() == 1.0
    order = np.random.default_rng(0).permutation(len(ref.target))
    assert np.array_equal(x, (ref.data[order] / 16).astype(np.float32))
    assert np.array_equal(y, ref.target[order])
    # another seed: a different split of the same examples
    other = data.digits(test_size=100, seed=5)
    assert other.x_test.shape == (100, 64)
    assert not np.array_equal(other.y_train[:50], ds.y_train[:50])
    ours = np.concatenate([other.x_train, other.x_test]) * 16
    assert _sorted_rows(ours, np.r_[other.y_train, other.y_test]) == _sorted_rows(
        ref.data, ref.target
    )


def test_digits_unflattened_and_errors():
    ds = data.digits(flatten=False)
    assert ds.x_train.shape == (1437, 8, 8, 1)
    np.testing.assert_array_equal(ds.x_train.reshape(1437, 64), data.digits().x_train)
    with pytest.raises(ValueError, match=r"test_size must be between 1 and 1796"):
        data.digits(test_size=1797)
    with pytest.raises(ValueError, match=r"test_size must be an int >= 1"):
        data.digits(test_size=0)


def test_digits_does_not_import_sklearn():
    import subprocess
    import sys

    code = "import sys, jinit.data as d; d.digits(); print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------------------------
# MNIST reader (synthetic idx files)
# --------------------------------------------------------------------------------------------


def _idx_images(images: np.ndarray) -> bytes:
    n, rows, cols = images.shape
    return struct.pack(">IIII", 2051, n, rows, cols) + images.astype(np.uint8).tobytes()


def _idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes()


def _write_mnist(
    directory: Path,
    n_train: int = 12,
    n_test: int = 5,
    shape: tuple[int, int] = (28, 28),
    *,
    gz: bool = False,
    sep: str = "-",
    seed: int = 0,
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images": rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        "train-labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        "t10k-labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for stem, arr in arrays.items():
        kind = "idx3" if arr.ndim == 3 else "idx1"
        payload = _idx_images(arr) if arr.ndim == 3 else _idx_labels(arr)
        name = f"{stem}{sep}{kind}-ubyte"
        if gz:
            (directory / (name + ".gz")).write_bytes(gzip.compress(payload, compresslevel=1))
        else:
            (directory / name).write_bytes(payload)
    return arrays


@pytest.mark.parametrize(("gz", "sep"), [(False, "-"), (True, "-"), (False, "."), (True, ".")])
def test_mnist_round_trip(tmp_path, gz, sep):
    ref = _write_mnist(tmp_path, gz=gz, sep=sep)
    ds = data.mnist(tmp_path, scale=1.0)
    assert ds.x_train.shape == (12, 784) and ds.x_test.shape == (5, 784)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    np.testing.assert_array_equal(ds.x_train, ref["train-images"].reshape(12, 784))
    np.testing.assert_array_equal(ds.x_test, ref["t10k-images"].reshape(5, 784))
    np.testing.assert_array_equal(ds.y_train, ref["train-labels"])
    np.testing.assert_array_equal(ds.y_test, ref["t10k-labels"])


def test_mnist_scale_and_flatten(tmp_path):
    ref = _write_mnist(tmp_path, gz=True)
    ds = data.mnist(str(tmp_path), flatten=False)
    assert ds.x_train.shape == (12, 28, 28, 1) and ds.x_test.shape == (5, 28, 28, 1)
    np.testing.assert_allclose(ds.x_train[..., 0], ref["train-images"] / 255, rtol=1e-6)
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    half = data.mnist(tmp_path, scale=1 / 256)
    np.testing.assert_array_equal(
        half.x_train, (ref["train-images"].reshape(12, -1) / 256).astype(np.float32)
    )
    with pytest.raises(ValueError, match=r"scale must be a finite number > 0"):
        data.mnist(tmp_path, scale=0)
    with pytest.raises(ValueError, match=r"split must be one of 'standard', 'nielsen'"):
        data.mnist(tmp_path, split="validation")


def test_mnist_odd_image_size_from_header(tmp_path):
    ref = _write_mnist(tmp_path, shape=(3, 5))
    ds = data.mnist(tmp_path, scale=1.0, flatten=False)
    assert ds.x_train.shape == (12, 3, 5, 1)
    np.testing.assert_array_equal(ds.x_train[..., 0], ref["train-images"])
    assert data.mnist(tmp_path).n_features == 15


def test_mnist_nielsen_split(tmp_path):
    # 60000 training images of 1x1 pixels keep the file tiny; the test files are not needed.
    ref = _write_mnist(tmp_path, n_train=60000, n_test=3, shape=(1, 1), gz=True)
    for stem in ("t10k-images", "t10k-labels"):
        next(tmp_path.glob(f"{stem}*")).unlink()
    ds = data.mnist(tmp_path, split="nielsen", scale=1.0)
    assert ds.x_train.shape == (50000, 1) and ds.x_test.shape == (10000, 1)
    np.testing.assert_array_equal(ds.x_train[:, 0], ref["train-images"][:50000, 0, 0])
    np.testing.assert_array_equal(ds.x_test[:, 0], ref["train-images"][50000:, 0, 0])
    np.testing.assert_array_equal(ds.y_train, ref["train-labels"][:50000])
    np.testing.assert_array_equal(ds.y_test, ref["train-labels"][50000:])
    with pytest.raises(FileNotFoundError, match=r"t10k-images-idx3-ubyte"):
        data.mnist(tmp_path)  # the standard split needs the test files


def test_mnist_nielsen_needs_60000(tmp_path):
    _write_mnist(tmp_path)
    with pytest.raises(ValueError, match=r"split='nielsen' needs .*60000.* holds 12 images"):
        data.mnist(tmp_path, split="nielsen")


def test_mnist_env_var(tmp_path, monkeypatch):
    ref = _write_mnist(tmp_path / "m", gz=True)
    monkeypatch.setenv("JINIT_MNIST", str(tmp_path / "m"))
    ds = data.mnist(scale=1.0)
    np.testing.assert_array_equal(ds.y_train, ref["train-labels"])
    monkeypatch.setenv("JINIT_MNIST", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=r"nowhere.*from \$JINIT_MNIST"):
        data.mnist()
    monkeypatch.delenv("JINIT_MNIST")
    with pytest.raises(FileNotFoundError, match=r"\$JINIT_MNIST is not set") as err:
        data.mnist()
    assert "train-images-idx3-ubyte" in str(err.value)


def test_mnist_missing_directory_and_file(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        data.mnist(tmp_path / "absent")
    msg = str(err.value)
    assert "absent" in msg and "train-labels-idx1-ubyte" in msg and "$JINIT_MNIST" in msg
    _write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError) as err:
        data.mnist(tmp_path)
    msg = str(err.value)
    assert str(tmp_path) in msg and "$JINIT_MNIST" in msg
    assert "t10k-labels-idx1-ubyte" in msg and "t10k-labels.idx1-ubyte.gz" in msg
    assert "train-images" not in msg.split("lacks:")[1].split(".")[0]


def test_mnist_malformed_files(tmp_path):
    ref = _write_mnist(tmp_path)
    images = tmp_path / "train-images-idx3-ubyte"
    labels = tmp_path / "train-labels-idx1-ubyte"
    good = images.read_bytes()

    images.write_bytes(struct.pack(">I", 2049) + good[4:])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: bad magic number 2049"):
        data.mnist(tmp_path)

    images.write_bytes(good[:-7])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: truncated"):
        data.mnist(tmp_path)

    images.write_bytes(good[:10])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: not an idx file"):
        data.mnist(tmp_path)

    images.write_bytes(good + b"\0")
    with pytest.raises(ValueError, match=r"trailing bytes"):
        data.mnist(tmp_path)

    images.write_bytes(good)
    labels.write_bytes(_idx_labels(ref["train-labels"][:-1]))
    with pytest.raises(ValueError, match=r"12 images but .*train-labels-idx1-ubyte holds 11"):
        data.mnist(tmp_path)

    labels.unlink()
    gz = tmp_path / "train-labels-idx1-ubyte.gz"
    gz.write_bytes(gzip.compress(_idx_labels(ref["train-labels"]))[:-10])
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.gz: corrupt gzip"):
        data.mnist(tmp_path)


@pytest.mark.skipif(REAL_MNIST is None, reason="real MNIST files not present")
def test_real_mnist():
    ds = data.mnist(REAL_MNIST)
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert ds.y_train[0] == 5
    assert ds.n_classes == 10
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    np.testing.assert_array_equal(np.unique(ds.y_test), np.arange(10))


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


def test_registry():
    names = data.available()
    assert set(names) == {
        "circles",
        "moons",
        "spirals",
        "planar",
        "coursera-circles",
        "planar-flower",
        "digits",
        "mnist",
        "digits-images",
        "mnist-images",
        "modular-addition",
    }
    ds = data.get("circles", n_train=N_TRAIN, n_test=N_TEST, seed=2)
    np.testing.assert_array_equal(ds.x_train, data.circles(N_TRAIN, N_TEST, seed=2).x_train)
    np.testing.assert_array_equal(
        data.get("Coursera_Circles").x_train, data.coursera_circles().x_train
    )


def test_registry_errors(tmp_path):
    with pytest.raises(
        ValueError, match=r"unknown dataset 'circle'\. Did you mean 'circles'"
    ) as err:
        data.get("circle")
    assert "planar-flower" in str(err.value) and "mnist" in str(err.value)
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar10'.* Accepted: circles"):
        data.get("cifar10")
    with pytest.raises(TypeError, match=r"dataset 'moons'.*Accepted keyword arguments: n_train"):
        data.get("moons", factor=0.5)


# --------------------------------------------------------------------------- check_dataset


def test_check_dataset_names_the_split_and_the_problem():
    from jinit.data import Dataset, check_dataset

    x, y = np.zeros((64, 2), np.float32), np.zeros(64, np.int32)
    assert check_dataset(Dataset(x, y, x[:8], y[:8])) is not None
    with pytest.raises(ValueError, match="train split has 64 examples vs 50 labels"):
        check_dataset(Dataset(x, y[:50], x[:8], y[:8]))
    bad = x[:8].copy()
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match="x_test must be finite"):
        check_dataset(Dataset(x, y, bad, y[:8]))
    with pytest.raises(ValueError, match=r"x_test examples have shape \(3,\)"):
        check_dataset(Dataset(x, y, np.zeros((8, 3), np.float32), y[:8]))
    with pytest.raises(ValueError, match=r"y_train must hold one label per example"):
        check_dataset(Dataset(x, np.zeros((64, 10), np.int32), x[:8], y[:8]))
    targets = np.zeros((64, 10), np.float32)  # regression targets may have any shape (n, ...)
    assert check_dataset(Dataset(x, targets, x[:8], targets[:8])) is not None
    with pytest.raises(TypeError, match=r"must be a jinit\.data\.Dataset"):
        check_dataset((x, y, x, y))
