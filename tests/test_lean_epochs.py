"""Lean epochs: one validation pass, one probe model, bounded checkpoint writes."""

import json

import h5py
import numpy as np
import pytest
import tensorflow as tf
from tiny_model import tiny_backbone, tiny_batch, tiny_config, tiny_labels

from glomo_keras import GLoMo
from glomo_keras.training.monitor import ValidationMonitor, gate_probe, predict_with_gates
from glomo_keras.training.trainer import BestWeights, IntervalBackup


def _data(config, count, seed):
    inputs = tiny_batch(config, batch=count, seed=seed)
    labels = tiny_labels(config, inputs)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(4)
    return dataset, labels


@pytest.fixture
def model():
    config = tiny_config()
    model = GLoMo(config, tiny_backbone())
    model.compile()
    return model


def test_the_probe_is_built_once_per_model(model):
    valid, _ = _data(model.config, 8, seed=1)
    probe = gate_probe(model)
    first, gates = predict_with_gates(model, valid)
    function = probe.predict_function
    second, _ = predict_with_gates(model, valid)
    assert gate_probe(model) is probe and probe.predict_function is function
    np.testing.assert_allclose(first["prediction"], second["prediction"])
    assert set(gates) == {"text", "acoustic", "visual"}
    assert gates["text"].shape == (8, model.config.num_experts)
    other = GLoMo(model.config, tiny_backbone())
    assert gate_probe(other) is not probe


class CountingBackup(IntervalBackup):
    """An `IntervalBackup` that records the epochs it backs up."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.saved = []

    def save(self, epochs_done):
        self.saved.append(epochs_done)
        super().save(epochs_done)


def test_one_validation_pass_and_bounded_checkpoints(model, tmp_path):
    train, _ = _data(model.config, 12, seed=0)
    valid, labels = _data(model.config, 10, seed=1)  # a smaller last batch
    monitor = ValidationMonitor(model.config, valid, labels, tmp_path / "logs",
                                history_path=tmp_path / "history.json")
    best = BestWeights(tmp_path / "best.weights.h5")
    backup = CountingBackup(tmp_path / "backup", best, interval=3600)
    history = model.fit(train, epochs=3, callbacks=[monitor, best, backup], verbose=0)

    # The monitor's val_loss (fit has no validation_data) is Keras's.
    assert len(history.history["val_loss"]) == 3
    assert history.history["val_mae"][-1] == pytest.approx(history.history["val_loss"][-1])
    evaluated = model.evaluate(valid, verbose=0, return_dict=True)["loss"]
    assert history.history["val_loss"][-1] == pytest.approx(evaluated, abs=1e-5)
    saved = json.loads((tmp_path / "history.json").read_text())
    assert [entry["epoch"] for entry in saved] == [0, 1, 2]

    # Within the interval only the last epoch is backed up, in one copy.
    assert backup.saved == [3]
    files = sorted(path.name for path in (tmp_path / "backup").iterdir())
    assert files == ["latest.weights.h5", "training_metadata.json"]
    assert json.loads((tmp_path / "backup" / "training_metadata.json").read_text())["epoch"] == 3
    assert json.loads((tmp_path / "best.json").read_text())["epoch"] == 1 + int(
        np.argmin(history.history["val_loss"])
    )
    with h5py.File(tmp_path / "backup" / "latest.weights.h5") as backed_up:
        assert "optimizer" in backed_up
    with h5py.File(tmp_path / "best.weights.h5") as best_file:
        assert "optimizer" not in best_file  # a third of the size with Adam


def test_interval_zero_backs_up_every_epoch(model, tmp_path):
    backup = CountingBackup(tmp_path / "backup", None, interval=0)
    backup.set_model(model)
    backup.set_params({"epochs": 2})
    backup.on_epoch_end(0)
    backup.on_epoch_end(1)
    assert backup.saved == [1, 2]


def test_restore_loads_the_best_epoch(model, tmp_path):
    best = BestWeights(tmp_path / "best.weights.h5")
    best.set_model(model)
    best.on_epoch_end(0, {"val_loss": 0.5})
    kept = [np.array(w) for w in model.get_weights()]
    model.set_weights([w + 1 for w in kept])
    best.on_epoch_end(1, {"val_loss": 0.9})
    best.restore()
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), kept))
