"""What the experiments share: the MNIST-or-digits setup, sweep reports, titles, the probe."""

import numpy as np
import pytest

from jinit import data as data_lib
from jinit import experiments, laws
from jinit.diagnostics import probe_seeds
from jinit.experiments import deep
from jinit.experiments._mnist import Setup
from jinit.models import MLP
from jinit.report import sweep_report


def test_setup_falls_back_to_digits_without_mnist(monkeypatch):
    monkeypatch.delenv(data_lib.MNIST_ENV, raising=False)
    setup = Setup.load(None, data_lib.mnist)
    assert not setup.on_mnist and setup.origin.startswith("no MNIST")
    assert setup.data.n_features == 64


def test_setup_raises_for_an_explicit_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        Setup.load(str(tmp_path / "nowhere"), data_lib.mnist)


def test_sweep_report_mode_counts_seeds():
    assert sweep_report("x", 3, "t", "s").mode == "sweep (3 seeds)"
    assert sweep_report("x", 1, "t", "s", notes=["n"]).notes == ["n"]


def test_titles_carry_no_internal_labels():
    for name in experiments.available():
        assert "REFERENCE" not in experiments.get(name).title, name


def test_deep_probe_reads_the_sweep_weights():
    net = MLP([8] * 4 + [3], output="softmax")
    stds, _ = deep.layer_std_at_init(net, "he", laws.he_normal, [0, 5], batch=16)
    x = deep.jax.random.normal(deep.jax.random.key(deep._PROBE_KEY), (16, 8))
    want = probe_seeds(net, laws.he_normal, x, [0, 5], name="he").stats["std"][:, :-1]
    np.testing.assert_array_equal(stds, np.asarray(want))
