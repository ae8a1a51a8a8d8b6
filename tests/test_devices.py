"""Backend, device and precision choices: clear refusals, bfloat16 on capable GPUs."""

import os
import subprocess
import sys

import keras
import pytest
import tensorflow as tf
from training_fixtures import REPOSITORY

from glomo_keras.cli import main
from glomo_keras.training import devices
from glomo_keras.training.distribution import split_devices

AMPERE = [("NVIDIA A100", (8, 0))]
VOLTA = [("Tesla V100", (7, 0))]


ZEN4_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_bf16 avx512_vnni
"""
ZEN3_CPUINFO = ZEN4_CPUINFO.replace(" avx512f avx512bw avx512_bf16 avx512_vnni", "")
SAPPHIRE_RAPIDS_CPUINFO = ZEN3_CPUINFO.replace("avx2", "avx2 amx_bf16 amx_tile")


def test_auto_precision_is_bfloat16_only_on_gpus_that_have_it():
    assert devices.choose_precision("auto", AMPERE) == (
        "mixed_bfloat16", "auto: every GPU has bfloat16 units (compute capability >= 8.0)")
    policy, reason = devices.choose_precision("auto", AMPERE + VOLTA, cpu_flags=["avx512_bf16"])
    assert policy == "float32" and "GPU Tesla V100 has no bfloat16 units" in reason
    assert devices.choose_precision("mixed_float16", [])[0] == "mixed_float16"
    assert devices.choose_precision("float32", AMPERE) == ("float32", "asked for")
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        devices.choose_precision("half", [])


def test_cpu_bfloat16_is_read_from_the_cpu_flags(monkeypatch):
    monkeypatch.delenv("GLOMO_CPU_BF16", raising=False)
    assert devices.cpu_bfloat16_flags(ZEN4_CPUINFO) == ["avx512_bf16"]
    assert devices.cpu_bfloat16_flags(SAPPHIRE_RAPIDS_CPUINFO) == ["amx_bf16"]
    assert devices.cpu_bfloat16_flags(ZEN3_CPUINFO) == []
    assert devices.cpu_bfloat16_flags("model name : avx512_bf16 in the name only") == []
    monkeypatch.setenv("GLOMO_CPU_BF16", "0")
    assert devices.cpu_bfloat16_flags(ZEN4_CPUINFO) == []
    monkeypatch.setenv("GLOMO_CPU_BF16", "1")
    assert devices.cpu_bfloat16_flags(ZEN3_CPUINFO) == ["GLOMO_CPU_BF16=1"]
    monkeypatch.setenv("GLOMO_CPU_BF16", "yes")
    with pytest.raises(ValueError, match="GLOMO_CPU_BF16='yes'; expected 0"):
        devices.cpu_bfloat16_flags(ZEN4_CPUINFO)


def test_auto_precision_is_bfloat16_on_cpus_that_have_it_where_the_backend_gains(monkeypatch):
    monkeypatch.delenv("GLOMO_CPU_BF16", raising=False)
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    zen4 = devices.cpu_bfloat16_flags(ZEN4_CPUINFO)
    assert devices.choose_precision("auto", [], "tensorflow", zen4) == (
        "mixed_bfloat16", "auto: this CPU has avx512_bf16")
    policy, reason = devices.choose_precision(
        "auto", [], "tensorflow", devices.cpu_bfloat16_flags(ZEN3_CPUINFO))
    assert policy == "float32" and "this CPU has no native bfloat16" in reason
    for backend in ("jax", "torch"):
        policy, reason = devices.choose_precision("auto", [], backend, zen4)
        assert policy == "float32" and f"the {backend} backend is not known" in reason
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    policy, reason = devices.choose_precision("auto", [], "tensorflow", zen4)
    assert policy == "float32" and "TF_ENABLE_ONEDNN_OPTS=0" in reason


def test_auto_precision_on_this_machine_follows_the_override(monkeypatch):
    if devices.visible_gpus():
        pytest.skip("this machine has a GPU: the GPU rule decides")
    monkeypatch.setenv("GLOMO_CPU_BF16", "0")
    assert devices.choose_precision("auto")[0] == "float32"
    monkeypatch.setenv("GLOMO_CPU_BF16", "1")
    expected = "mixed_bfloat16" if keras.backend.backend() == "tensorflow" else "float32"
    assert devices.choose_precision("auto")[0] == expected


def test_xla_and_float16_are_refused_under_tf_distribute():
    with pytest.raises(ValueError, match="--backend jax --strategy mirrored"):
        devices.check_compile_settings("tensorflow", "mirrored", True, "float32")
    with pytest.raises(ValueError, match="use mixed_bfloat16"):
        devices.check_compile_settings("tensorflow", "multi_worker", False, "mixed_float16")
    devices.check_compile_settings("tensorflow", "mirrored", "auto", "mixed_bfloat16")
    devices.check_compile_settings("tensorflow", "default", True, "mixed_float16")
    devices.check_compile_settings("jax", "jax_data_parallel", True, "mixed_bfloat16")


def test_a_gpu_asked_for_and_not_visible_is_a_clear_error(capsys, monkeypatch):
    with pytest.raises(RuntimeError, match=f"the {keras.backend.backend()} backend sees no GPU"):
        devices.require_gpu([])
    assert devices.require_gpu(AMPERE) == AMPERE
    if devices.visible_gpus():
        pytest.skip("this machine has a GPU")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    code = main(["train", "--dataset", "mosei", "--data", "unused.pkl", "--device", "gpu"])
    assert code == 2
    error = capsys.readouterr().err
    assert "sees no GPU (CUDA_VISIBLE_DEVICES='' hides them)" in error
    assert "glomo-keras[gpu]" in error


def test_backend_selection():
    assert devices.select_backend(None) == keras.backend.backend()
    assert devices.select_backend(keras.backend.backend()) == keras.backend.backend()
    other = "jax" if keras.backend.backend() != "jax" else "tensorflow"
    with pytest.raises(RuntimeError, match=f"imported with the .* backend before --backend {other}"):
        devices.select_backend(other)
    with pytest.raises(ValueError, match="unknown backend 'mxnet'"):
        devices.select_backend("mxnet")


def test_the_command_line_sets_the_backend_before_keras():
    """`--backend jax` in a fresh process: Keras starts on JAX, TensorFlow keeps off GPUs."""
    script = (
        "import sys\n"
        "import argparse\n"
        "from glomo_keras.training import flags\n"
        "assert 'keras' not in sys.modules\n"
        "args = argparse.Namespace(device='auto', backend='jax', virtual_devices=None,\n"
        "    virtual_device_memory=None)\n"
        "flags.prepare_devices(args)\n"
        "import keras, tensorflow as tf\n"
        "print(keras.backend.backend(), tf.config.get_visible_devices('GPU'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPOSITORY,
        env={**os.environ, "KERAS_BACKEND": "tensorflow"}, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    backend, gpus = result.stdout.split()
    assert backend == "jax" and gpus == "[]"


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow devices")
def test_splitting_a_gpu_needs_one_and_a_memory_limit():
    if tf.config.list_physical_devices("GPU"):
        with pytest.raises(ValueError, match="--virtual-device-memory"):
            split_devices(2)
    else:
        with pytest.raises(ValueError, match="sees no GPU to split"):
            split_devices(2, gpu=True, memory_limit_mb=1000)
