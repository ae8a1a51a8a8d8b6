"""One SGD step of a tiny GLoMo on one device and on 2 replicas.

Run as a script in a fresh process: logical devices must be configured
before the backend initialises its devices. It splits the CPU into 2
logical devices, builds the same tiny GLoMo twice — once on one device,
once under `make_strategy("mirrored")` (TensorFlow: `MirroredStrategy`;
JAX: `keras.distribution.DataParallel`) — with the same initial weights,
takes one plain-SGD step on the same global batch (2 × 4) and prints one
JSON line: both losses, the largest weight and gradient differences, the
number of replicas and the batch rows each replica gets. Every dropout is 0
(the BERT backbone's too) and the gates are noise-free, so the two must
agree up to float round-off.

`--moe-loss-weight W` (default 0) sets the MoE balancing loss. That loss is
a non-linear function of the batch (the spread of the expert load), so with
W > 0 each replica computes it on its own half of the batch and the two
runs may differ slightly, by design (as with batch normalisation).

Example:

```
python tests/distribution_step.py  # {"num_replicas": 2, "loss_default": ...}
KERAS_BACKEND=jax python tests/distribution_step.py
```
"""

import argparse
import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from glomo_keras.training.distribution import make_strategy  # noqa: E402
from glomo_keras.training.distribution import split_devices  # noqa: E402

REPLICAS = 2
PER_REPLICA_BATCH = 4
LEARNING_RATE = 0.1
NO_DROPOUT = dict(
    fusion_dropout=0.0, embedding_dropout=0.0, attention_dropout=0.0,
    relu_dropout=0.0, residual_dropout=0.0, pooling_dropout=0.0,
    noisy_gating=False,
)


def _backbone():
    import keras_hub
    from tiny_model import SEQUENCE_LENGTH
    from tiny_model import VOCABULARY_SIZE

    # tiny_model.tiny_backbone with the backbone's own dropout off.
    return keras_hub.models.BertBackbone(
        vocabulary_size=VOCABULARY_SIZE, num_layers=2, num_heads=2,
        hidden_dim=8, intermediate_dim=16, max_sequence_length=SEQUENCE_LENGTH,
        dropout=0.0,
    )


def _one_step(config, distribution, initial_weights, dataset):
    """Builds, loads `initial_weights`, takes one SGD step.

    Returns:
        `(loss, weights before, weights after, rows per replica)`; the rows
        each replica's train step saw (TensorFlow; None on JAX, whose step
        sees the global array, sharded).
    """
    import keras

    from glomo_keras.model import GLoMo

    keras.utils.set_random_seed(0)
    with distribution.scope():
        model = GLoMo(config, _backbone())
        # XLA off on TensorFlow (as the CLI on CPU); JAX always compiles.
        model.compile(
            optimizer=keras.optimizers.SGD(LEARNING_RATE),
            jit_compile=keras.backend.backend() == "jax",
        )
    if initial_weights is not None:
        model.set_weights(initial_weights)
    if keras.backend.backend() == "tensorflow":
        model.train_step = _counting_rows(model.train_step)
    before = [w.copy() for w in model.get_weights()]
    logs = model.fit(dataset, epochs=1, verbose=0, shuffle=False).history
    rows = logs["replica_rows"][0] if "replica_rows" in logs else None
    return logs["loss"][0], before, model.get_weights(), rows


def _counting_rows(step):
    """Adds `replica_rows`, the batch rows of the step (mean over replicas)."""
    import keras

    def step_counting_rows(data):
        logs = dict(step(data))
        rows = keras.ops.shape(data[0]["acoustic"])[0]
        logs["replica_rows"] = keras.ops.cast(rows, "float32")
        return logs

    return step_counting_rows


def _jax_rows_per_device(global_batch):
    """Rows per device of a batch laid out by the current JAX distribution."""
    import jax
    import keras
    import numpy as np

    layout = keras.distribution.distribution().get_data_layout((global_batch, 3))
    array = jax.device_put(np.zeros((global_batch, 3), "float32"), layout.backend_layout)
    return sorted(shard.data.shape[0] for shard in array.addressable_shards)


def _largest(arrays):
    return max(float(arrays_max) for arrays_max in (a.max(initial=0.0) for a in arrays))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moe-loss-weight", type=float, default=0.0)
    args = parser.parse_args()

    split_devices(REPLICAS)  # before anything touches TensorFlow's devices

    import keras
    import numpy as np
    import tensorflow as tf
    from tiny_model import tiny_batch
    from tiny_model import tiny_config
    from tiny_model import tiny_labels

    from glomo_keras.training.distribution import Distribution

    global_batch = REPLICAS * PER_REPLICA_BATCH
    config = tiny_config(
        "mosei", moe_loss_weight=args.moe_loss_weight,
        **NO_DROPOUT,
    )
    inputs = tiny_batch(config, batch=global_batch, seed=3)
    labels = tiny_labels(config, inputs)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(global_batch)

    # One device first: on JAX, make_strategy sets the global distribution.
    loss_one, before_one, after_one, rows_one = _one_step(
        config, Distribution("default", 1), None, dataset
    )
    mirrored = make_strategy("mirrored")
    loss_two, before_two, after_two, rows_two = _one_step(
        config, mirrored, before_one, dataset
    )
    if mirrored.strategy is not None:
        devices = list(mirrored.strategy.extended.worker_devices)
        device_rows = None
        replica_rows = rows_two  # the mean over replicas of their batch rows
    else:
        devices = [str(device) for device in keras.distribution.list_devices()]
        device_rows = _jax_rows_per_device(global_batch)
        replica_rows = float(np.mean(device_rows))

    gradients_one = [(b - a) / LEARNING_RATE for b, a in zip(before_one, after_one)]
    gradients_two = [(b - a) / LEARNING_RATE for b, a in zip(before_two, after_two)]
    print(json.dumps({
        "num_replicas": mirrored.num_replicas,
        "strategy": mirrored.name,
        "backend": keras.backend.backend(),
        "devices": devices,
        "global_batch": global_batch,
        "rows_one_device": rows_one,
        "replica_rows": replica_rows,
        "device_rows": device_rows,
        "loss_default": float(loss_one),
        "loss_mirrored": float(loss_two),
        "initial_weight_diff": _largest(np.abs(a - b) for a, b in zip(before_one, before_two)),
        "updated_weight_diff": _largest(np.abs(a - b) for a, b in zip(after_one, after_two)),
        "gradient_max_abs_diff": _largest(
            np.abs(a - b) for a, b in zip(gradients_one, gradients_two)
        ),
        "gradient_max_abs": _largest(np.abs(g) for g in gradients_one),
        # Variables whose gradients differ beyond |a - b| <= 1e-5 + 1e-4 |a|.
        "gradients_not_close": [
            index for index, (a, b) in enumerate(zip(gradients_one, gradients_two))
            if not np.allclose(b, a, rtol=1e-4, atol=1e-5)
        ],
        "variables": len(gradients_one),
        "variables_with_gradient": sum(bool(np.any(g != 0)) for g in gradients_one),
    }))


if __name__ == "__main__":
    main()
