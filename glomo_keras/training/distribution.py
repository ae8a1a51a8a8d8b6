"""Distribution strategies for training: one device, several GPUs, several machines.

`make_strategy(name)` returns a `Distribution` whose `scope()` is entered
while the model is built and compiled: a `tf.distribute` strategy on
TensorFlow, a `keras.distribution.DataParallel` on JAX; the global batch is
split across the replicas.
"""

import contextlib
import dataclasses
import json
import os

import keras

from glomo_keras.errors import UsageError
from glomo_keras.training.options import STRATEGIES


@dataclasses.dataclass
class Distribution:
    """A chosen strategy.

    Args:
        name: the strategy actually used ("default", "mirrored",
            "multi_worker" or "jax_data_parallel").
        num_replicas: replicas the global batch is split across.
        is_chief: whether this process writes results, exports and logs.
        strategy: the `tf.distribute.Strategy` (TensorFlow) or None.
        worker_index: this process's index among the workers.
    """

    name: str
    num_replicas: int
    is_chief: bool = True
    strategy: object = None
    worker_index: int = 0

    def working_directory(self, output):
        """Where this process writes: `output`, off the chief `output/workers/worker_<i>`."""
        if self.is_chief:
            return output
        return output / "workers" / f"worker_{self.worker_index}"

    def scope(self):
        """The context in which to build and compile the model."""
        if self.strategy is None:
            return contextlib.nullcontext()
        return self.strategy.scope()

    def prepare_model(self, model, dataset):
        """Readies a compiled model for `fit` on `dataset` under this strategy.

        Keras 3 (3.15 and earlier) cannot `fit` under
        `MultiWorkerMirroredStrategy` as is; for `multi_worker` only:

        - the model is built from `dataset.element_spec`, not from a batch
          merged with `strategy.reduce`, which fails for dict inputs
          (keras-team/keras#20329);
        - the steps return their scalar logs with shape [1], which
          `strategy.reduce(..., axis=0)` can merge (tensorflow/tensorflow#72388).

        Args:
            model: a compiled `keras.Model` (built in `scope()`).
            dataset: the training `tf.data.Dataset` of `(inputs, label)`.
        """
        if self.name != "multi_worker" or not hasattr(model, "_symbolic_build"):
            return
        batch = keras.tree.map_structure(
            lambda spec: keras.KerasTensor(tuple(spec.shape), dtype=spec.dtype.name),
            dataset.element_spec)

        def build_from_spec(iterator=None, data_batch=None):
            with self.scope():
                model._symbolic_build(data_batch=batch)

        model._maybe_symbolic_build = build_from_spec
        model.train_step = _logs_as_vectors(model.train_step)
        model.test_step = _logs_as_vectors(model.test_step)


def _logs_as_vectors(step):
    """Wraps a train/test step so that its scalar logs have shape [1]."""

    def as_vector(value):
        return keras.ops.reshape(value, (1,)) if len(value.shape) == 0 else value

    def step_with_vector_logs(data):
        return keras.tree.map_structure(as_vector, step(data))

    return step_with_vector_logs


def split_devices(count, gpu=None, memory_limit_mb=None):
    """Splits the CPU (or the first GPU) into `count` logical devices.

    Must run before TensorFlow initialises its devices; on JAX (CPU only)
    before the first JAX operation.

    Args:
        count: int, the number of logical devices.
        gpu: whether to split the first GPU; by default when one exists.
        memory_limit_mb: each logical GPU's memory in MiB (required for a GPU).

    Raises:
        UsageError: a GPU split without a memory limit, or no GPU to split.

    Example:

    ```python
    split_devices(2)
    make_strategy("mirrored").num_replicas  # 2
    ```
    """
    if keras.backend.backend() == "jax":
        _split_jax_cpu(count, gpu)
        return
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    use_gpu = bool(gpus) if gpu is None else gpu
    if use_gpu and not gpus:
        raise UsageError("split_devices(gpu=True): TensorFlow sees no GPU to split.")
    if use_gpu and not memory_limit_mb:
        raise UsageError(
            f"splitting a GPU into {count} devices needs a memory limit per device: "
            "--virtual-device-memory MIB (e.g. a 40 GiB GPU into 2: 19000)")
    device = gpus[0] if use_gpu else tf.config.list_physical_devices("CPU")[0]
    configs = [
        tf.config.LogicalDeviceConfiguration(memory_limit=memory_limit_mb if use_gpu else None)
        for _ in range(count)]
    tf.config.set_logical_device_configuration(device, configs)


def _split_jax_cpu(count, gpu):
    import jax

    if gpu:
        raise UsageError("On JAX, split_devices splits the CPU only, not a GPU.")
    if hasattr(jax.config, "jax_num_cpu_devices"):
        # Raises a RuntimeError once JAX has started its backends.
        jax.config.update("jax_num_cpu_devices", count)
        return
    flag = f"--xla_force_host_platform_device_count={count}"
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()


def make_strategy(name="auto"):
    """Builds the distribution for `name`.

    `auto` is mirrored over several (logical) devices, default otherwise;
    `multi_worker` reads `TF_CONFIG` (TensorFlow only). Under JAX, mirrored
    is a global `keras.distribution.DataParallel`.

    Args:
        name: one of `STRATEGIES`.

    Example:

    ```python
    distribution = make_strategy("auto")
    with distribution.scope():
        model = GLoMo(config, backbone)
    ```
    """
    if name not in STRATEGIES:
        raise UsageError(f"Unknown strategy {name!r}; expected one of {list(STRATEGIES)}.")
    if keras.backend.backend() == "jax":
        return _jax_distribution(name)
    if keras.backend.backend() != "tensorflow":
        if name in ("mirrored", "multi_worker"):
            raise UsageError(
                f"--strategy {name} needs the TensorFlow or JAX backend, "
                f"not {keras.backend.backend()}.")
        return Distribution("default", 1)
    import tensorflow as tf

    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise UsageError("--strategy multi_worker needs the TF_CONFIG environment variable.")
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        resolver = strategy.cluster_resolver
        is_chief = resolver.task_type in (None, "chief") or (
            resolver.task_type == "worker"
            and resolver.task_id == 0
            and "chief" not in json.loads(os.environ["TF_CONFIG"]).get("cluster", {}))
        return Distribution(
            "multi_worker", strategy.num_replicas_in_sync, is_chief, strategy,
            resolver.task_id or 0)
    devices = [device.name for device in tf.config.list_logical_devices("GPU")
               or tf.config.list_logical_devices("CPU")]
    if name == "mirrored" or (name == "auto" and len(devices) > 1):
        strategy = tf.distribute.MirroredStrategy(devices=devices)
        return Distribution("mirrored", strategy.num_replicas_in_sync, True, strategy)
    return Distribution("default", 1)


def _jax_distribution(name):
    if name == "multi_worker":
        raise UsageError(
            "--strategy multi_worker uses TF_CONFIG and needs the TensorFlow "
            "backend; on JAX, --strategy mirrored trains on every local device "
            "(keras.distribution.DataParallel).")
    devices = keras.distribution.list_devices()
    if name == "default" or (name == "auto" and len(devices) == 1):
        return Distribution("default", 1)
    distribution = keras.distribution.DataParallel(devices=devices)
    keras.distribution.set_distribution(distribution)
    return Distribution("jax_data_parallel", len(devices))
