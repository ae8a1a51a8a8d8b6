"""Backend, device and precision choices of a training run.

Everything here runs before the model is built, and `select_backend` before
Keras is imported: Keras is imported inside the functions only.

Example:

```python
select_backend("jax")      # before `import keras`
keep_tensorflow_on_cpu()
policy, reason = choose_precision("auto")  # "float32" on a CPU without bfloat16
```
"""

import importlib.util
import os
import sys

from glomo_keras.errors import SetupError
from glomo_keras.errors import UsageError

BACKENDS = ("tensorflow", "jax", "torch")
DEVICES = ("auto", "cpu", "gpu")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
# The compute inside an exported SavedModel (`glomo_keras.export`).
EXPORT_PRECISIONS = ("auto", "float32", "mixed_bfloat16")
# bfloat16 matrix units: NVIDIA Ampere (compute capability 8.0) and newer.
BFLOAT16_COMPUTE_CAPABILITY = (8, 0)
# /proc/cpuinfo flags of x86 CPUs with native bfloat16 arithmetic (AVX-512
# BF16: AMD Zen 4, Intel Cooper Lake; AMX: Intel Sapphire Rapids and newer).
CPU_BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")
# Overrides the CPU detection: "0" (no bfloat16) or "1" (bfloat16).
CPU_BFLOAT16_VARIABLE = "GLOMO_CPU_BF16"
# Backends whose CPU kernels run bfloat16 faster than float32 where the CPU
# has it: TensorFlow's oneDNN (a bert-base train step 1.7-1.9x); not JAX
# (0.84-0.88x) nor PyTorch (unsettled); `benchmarks/bf16_backends.py`.
CPU_BFLOAT16_BACKENDS = ("tensorflow",)


def select_backend(name=None, device="auto"):
    """Sets the Keras backend (`KERAS_BACKEND`), `--device cpu` hiding the GPUs first; before Keras.

    Args:
        name: "tensorflow", "jax" or "torch"; None keeps `KERAS_BACKEND`
            (default tensorflow).
        device: "auto", "cpu" or "gpu"; "cpu" hides every GPU.

    Returns:
        The backend name in force.

    Raises:
        UsageError: an unknown backend, or its package is not installed.
        SetupError: Keras was already imported with another backend.

    Example:

    ```python
    select_backend("torch", "cpu")
    import keras  # keras.backend.backend() == "torch"
    ```
    """
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # every backend: no GPU
    if name is None:
        return os.environ.get("KERAS_BACKEND", "tensorflow")
    if name not in BACKENDS:
        raise UsageError(f"unknown backend {name!r}; expected one of {list(BACKENDS)}")
    if "keras" in sys.modules:
        current = sys.modules["keras"].backend.backend()
        if current != name:
            raise SetupError(
                f"Keras was imported with the {current} backend before --backend "
                f"{name} could be set; set KERAS_BACKEND={name} instead")
    if importlib.util.find_spec(name) is None:
        raise UsageError(
            f"--backend {name} needs the {name} package: "
            f"pip install 'glomo-keras[{name}]' (on a CPU-only machine, a CPU "
            "build of PyTorch is much smaller)")
    os.environ["KERAS_BACKEND"] = name
    return name


def keep_tensorflow_on_cpu():
    """Keeps TensorFlow (then only `tf.data` and summaries) off the GPUs under another backend.

    Otherwise it would reserve most of every GPU's memory. Call it before
    TensorFlow runs any operation.

    Raises:
        SetupError: TensorFlow has already initialised its devices.

    Example:

    ```python
    keep_tensorflow_on_cpu()  # no-op with the TensorFlow backend
    ```
    """
    import keras
    import tensorflow as tf

    if keras.backend.backend() == "tensorflow" or not tf.config.list_physical_devices("GPU"):
        return
    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError as error:
        raise SetupError(
            "TensorFlow initialised its GPUs before keep_tensorflow_on_cpu(); "
            f"call it before any TensorFlow operation ({error})"
        ) from None


def visible_gpus():
    """`[(name, (major, minor) compute capability or None)]` the backend sees."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return [
            (str(device), _capability(getattr(device, "compute_capability", None)))
            for device in jax.devices() if device.platform == "gpu"]
    if backend == "torch":
        import torch

        return [
            (torch.cuda.get_device_name(index), torch.cuda.get_device_capability(index))
            for index in range(torch.cuda.device_count())]
    import tensorflow as tf

    gpus = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        gpus.append((details.get("device_name", device.name),
                     _capability(details.get("compute_capability"))))
    return gpus


def _capability(value):
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(int(part) for part in value.split(".")[:2])
    return tuple(value)


def require_gpu(gpus=None):
    """Returns the visible GPUs, or raises a `SetupError` that says why there are none.

    Args:
        gpus: the `visible_gpus()` result (default: ask the backend).

    Example:

    ```python
    require_gpu()  # --device gpu
    ```
    """
    import keras

    gpus = visible_gpus() if gpus is None else gpus
    if gpus:
        return gpus
    backend = keras.backend.backend()
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    why = (f"CUDA_VISIBLE_DEVICES={hidden!r} hides them" if hidden is not None
           else "no CUDA driver, or a CPU-only build of the backend")
    raise SetupError(
        f"--device gpu: the {backend} backend sees no GPU ({why}). Check "
        "nvidia-smi, install the CUDA builds with pip install 'glomo-keras[gpu]', "
        "or train on the CPU with --device auto")


def cpu_bfloat16_flags(cpuinfo=None):
    """The native-bfloat16 flags of this CPU (`CPU_BFLOAT16_FLAGS` it has), from /proc/cpuinfo.

    `GLOMO_CPU_BF16=0` answers `[]` and `GLOMO_CPU_BF16=1`
    `["GLOMO_CPU_BF16=1"]` whatever the CPU; systems without /proc/cpuinfo `[]`.

    Args:
        cpuinfo: the text of `/proc/cpuinfo` (default: read it).

    Raises:
        UsageError: `GLOMO_CPU_BF16` is set to something other than 0 or 1.

    Example:

    ```python
    cpu_bfloat16_flags("flags : fpu avx512f avx512_bf16")  # ["avx512_bf16"]
    ```
    """
    forced = os.environ.get(CPU_BFLOAT16_VARIABLE)
    if forced is not None:
        if forced not in ("0", "1"):
            raise UsageError(
                f"{CPU_BFLOAT16_VARIABLE}={forced!r}; expected 0 (no bfloat16) or 1 (bfloat16)")
        return [f"{CPU_BFLOAT16_VARIABLE}=1"] if forced == "1" else []
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as file:
                cpuinfo = file.read()
        except OSError:
            return []
    flags = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            flags.update(value.split())
    return [flag for flag in CPU_BFLOAT16_FLAGS if flag in flags]


def choose_precision(name="auto", gpus=None, backend=None, cpu_flags=None):
    """The Keras dtype policy for `--precision`, and why.

    "auto" is `mixed_bfloat16` when every visible GPU has bfloat16 units
    (compute capability >= 8.0), or without GPUs when the CPU has native
    bfloat16 and the backend gains from it (`CPU_BFLOAT16_BACKENDS`, with
    oneDNN on); `float32` otherwise.

    Args:
        name: one of `PRECISIONS`.
        gpus, backend, cpu_flags: `visible_gpus()`, the Keras backend and
            `cpu_bfloat16_flags()` (default: ask).

    Returns:
        `(policy, reason)`, e.g. `("mixed_bfloat16", "auto: this CPU has avx512_bf16")`.

    Raises:
        UsageError: an unknown precision name.

    Example:

    ```python
    policy, reason = choose_precision("auto")
    print(f"precision: {policy} ({reason})")
    ```
    """
    if name not in PRECISIONS:
        raise UsageError(f"unknown precision {name!r}; expected one of {list(PRECISIONS)}")
    if name != "auto":
        return name, "asked for"
    gpus = visible_gpus() if gpus is None else gpus
    if gpus:
        older = [gpu for gpu, capability in gpus
                 if capability is None or capability < BFLOAT16_COMPUTE_CAPABILITY]
        if older:
            return "float32", (f"auto: GPU {older[0]} has no bfloat16 units "
                               "(compute capability < 8.0)")
        return "mixed_bfloat16", "auto: every GPU has bfloat16 units (compute capability >= 8.0)"
    if backend is None:
        import keras

        backend = keras.backend.backend()
    flags = cpu_bfloat16_flags() if cpu_flags is None else cpu_flags
    if not flags:
        return "float32", (f"auto: this CPU has no native bfloat16 "
                           f"({'/'.join(CPU_BFLOAT16_FLAGS)}); emulated bfloat16 is slower")
    if backend not in CPU_BFLOAT16_BACKENDS:
        return "float32", (f"auto: this CPU has {flags[0]}, but the {backend} backend is not "
                           "known to train faster in bfloat16 on a CPU")
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0":
        return "float32", (f"auto: this CPU has {flags[0]}, but TF_ENABLE_ONEDNN_OPTS=0 turns "
                           "off oneDNN's bfloat16 kernels")
    return "mixed_bfloat16", f"auto: this CPU has {flags[0]}"


def check_compile_settings(backend, strategy, jit_compile, precision):
    """Refuses settings that fail or silently misbehave under a TensorFlow strategy.

    XLA (`jit_compile=True`) and `mixed_float16` (per-replica loss scaling)
    with `mirrored` or `multi_worker`; the message names what works instead.

    Args:
        backend, strategy: the Keras backend and the `Distribution.name`.
        jit_compile, precision: True, False or "auto", and the dtype policy.

    Example:

    ```python
    check_compile_settings("tensorflow", "mirrored", False, "mixed_bfloat16")
    ```
    """
    distributed = backend == "tensorflow" and strategy in ("mirrored", "multi_worker")
    if distributed and jit_compile is True:
        raise UsageError(
            f"--jit with --strategy {strategy} is not supported on TensorFlow: Keras "
            "turns XLA off under tf.distribute and forcing it hits TensorFlow bugs. "
            "Train without --jit, or use --backend jax --strategy mirrored, which "
            "compiles the multi-device step with XLA (keras.distribution.DataParallel).")
    if distributed and precision == "mixed_float16":
        raise UsageError(
            f"--precision mixed_float16 with --strategy {strategy}: use "
            "mixed_bfloat16 (no loss scaling), or float32.")
