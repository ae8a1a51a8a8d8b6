"""What TensorBoard shows of a run: tag names, descriptions, HParams, layout and text.

Each seed is one TensorBoard run, `<run>/logs/seed_<S>`, and one HParams
session; every step is an epoch counted from 1. Scalars are grouped by the
part of the tag before the first `/`: `train/`, `validation/`, `fusion/`
(modality weights), `moe/<modality>/` (expert load and imbalance, with and
without gate noise), and, once at the selected epoch, `selected/` and
`test/`. The Custom Scalars dashboard gets one layout and the Text
dashboard the run's set-up and results (docs/tensorboard.md).

Example:

```python
summaries.description("acc2_non0")  # "Binary accuracy, negative vs positive, ..."
```
"""

import contextlib
import json
import pathlib
import shlex
import sys

import numpy as np

from glomo_keras.config import MODALITIES
from glomo_keras.config import PER_MODALITY_FIELDS
from glomo_keras.model import MODALITY_NAMES
from glomo_keras.training.devices import visible_gpus

# What each metric is and which way is better (the description of its summaries).
DESCRIPTIONS = {
    "loss": "The compiled loss of the sentiment output (L1 for regression, "
            "cross-entropy for classification; training adds the MoE balancing "
            "losses). Lower is better.",
    "mae": "Mean absolute error of the sentiment score. Lower is better.",
    "corr": "Pearson correlation of predicted and true sentiment scores. Higher is better.",
    "acc7": "7-class accuracy: scores clipped to [-3, 3] and rounded. Higher is better.",
    "acc5": "5-class accuracy: scores clipped to [-2, 2] and rounded. Higher is better.",
    "acc2_has0": "Binary accuracy, negative (< 0) vs non-negative (>= 0), over all "
                 "utterances (has0: a label of 0 counts as non-negative). Higher is better.",
    "f1_has0": "Weighted F1 of negative (< 0) vs non-negative (>= 0), over all "
               "utterances. Higher is better.",
    "acc2_non0": "Binary accuracy, negative (< 0) vs positive (> 0), utterances "
                 "labelled 0 left out (non0). Higher is better.",
    "f1_non0": "Weighted F1 of negative vs positive, utterances labelled 0 left out "
               "(non0). Higher is better.",
    "accuracy": "Classification accuracy. Higher is better.",
    "f1": "Weighted F1 over the classes. Higher is better.",
    "learning_rate": "The optimizer's learning rate at the end of the epoch.",
}
# The scalar metrics of each task, in the order the HParams table shows them.
TASK_METRICS = {
    "regression": ("mae", "corr", "acc2_has0", "acc2_non0", "f1_has0", "f1_non0",
                   "acc5", "acc7"),
    "classification": ("accuracy", "f1"),
}

# The hyper-parameters that define a run, listed first by the HParams dashboard.
DEFINING = (
    "dataset", "backbone", "learning_rate", "batch_size", "epochs",
    *(f"num_experts_{MODALITY_NAMES[m]}" for m in MODALITIES),
    *(f"num_windows_{MODALITY_NAMES[m]}" for m in MODALITIES),
    "compatibility", "precision",
)


def description(metric):
    """What a metric is and which way is better.

    Args:
        metric: a metric name ("mae", "acc2_non0", "loss", ...).

    Example:

    ```python
    description("mae")  # "Mean absolute error of the sentiment score. Lower is better."
    ```
    """
    return DESCRIPTIONS.get(metric, f"The {metric} metric.")


def session_hparams(config, options, backbone, num_replicas, precision):
    """The hyper-parameters of one seed's HParams session, defining ones first.

    Per-modality fields become one value per modality (`num_experts_text`,
    ...); other lists and None become JSON text.

    Args:
        config, options: the `GLoMoConfig` and the seed's `TrainingOptions`.
        backbone, num_replicas: the backbone spec and the replicas trained on.
        precision: the Keras dtype policy name (the resolved `options.precision`).

    Example:

    ```python
    session_hparams(config, options, "minilm", 1, "float32")["num_experts_text"]  # 3
    ```
    """
    values = {"backbone": backbone, "num_replicas": num_replicas}
    for name, value in {**config.to_dict(), **options.to_dict(), "precision": precision}.items():
        if name in PER_MODALITY_FIELDS:
            for modality, count in config.per_modality(name).items():
                values[f"{name}_{MODALITY_NAMES[modality]}"] = count
        elif isinstance(value, (bool, int, float, str)):
            values[name] = value
        else:
            values[name] = json.dumps(value)
    first = {name: values[name] for name in DEFINING}
    return {**first, **{k: v for k, v in values.items() if k not in first}}


def write_experiment(hparams, task):
    """Writes the HParams experiment: its hyper-parameters and metric columns.

    Call inside a default writer. The defining hyper-parameters are marked
    as differing, so the dashboard lists them first.

    Args:
        hparams: the session's hyper-parameters (`session_hparams`).
        task: "regression" or "classification".

    Example:

    ```python
    with writer.as_default():
        write_experiment(session_hparams(config, options, "minilm", 1, "float32"), config.task)
    ```
    """
    import tensorflow as tf
    from tensorboard.plugins.hparams import api_pb2
    from tensorboard.plugins.hparams import summary as hparams_summary

    infos = [
        api_pb2.HParamInfo(name=name, type=_data_type(value), differs=name in DEFINING)
        for name, value in hparams.items()]
    metrics = []
    for split, tag in (("test", "test/{}"), ("validation", "selected/validation_{}")):
        for metric in TASK_METRICS[task]:
            metrics.append(api_pb2.MetricInfo(
                name=api_pb2.MetricName(tag=tag.format(metric)),
                display_name=f"{split} {metric}",
                description=f"{description(metric)} ({split} split, selected epoch)",
                dataset_type=api_pb2.DATASET_VALIDATION if split == "validation"
                else api_pb2.DATASET_UNKNOWN,
            ))
    metrics.append(api_pb2.MetricInfo(
        name=api_pb2.MetricName(tag="selected/epoch"), display_name="selected epoch",
        description="The epoch kept (lowest validation loss), counted from 1.",
    ))
    experiment = hparams_summary.experiment_pb(infos, metrics)
    tf.summary.experimental.write_raw_pb(experiment.SerializeToString(), step=0)


def _data_type(value):
    from tensorboard.plugins.hparams import api_pb2

    if isinstance(value, bool):
        return api_pb2.DATA_TYPE_BOOL
    if isinstance(value, (int, float)):
        return api_pb2.DATA_TYPE_FLOAT64
    return api_pb2.DATA_TYPE_STRING


def write_layout(moe_modalities):
    """Writes the Custom Scalars layout (inside a default writer): loss, fusion, expert load.

    Args:
        moe_modalities: the names of the modalities with MoE layers ("text", ...).

    Example:

    ```python
    with writer.as_default():
        write_layout(["text", "acoustic", "visual"])
    ```
    """
    import tensorflow as tf
    from tensorboard.plugins.custom_scalar import layout_pb2
    from tensorboard.plugins.custom_scalar import summary as custom_scalar_summary

    def chart(title, *patterns):
        return layout_pb2.Chart(
            title=title, multiline=layout_pb2.MultilineChartContent(tag=list(patterns)))

    categories = [
        layout_pb2.Category(title="Loss and quality", chart=[
            chart("loss: train and validation", r"^(train|validation)/loss$"),
            chart("validation metrics", r"^validation/(?!loss$).*"),
        ]),
        layout_pb2.Category(title="Fusion", chart=[
            chart("global modality weights (mean over the validation split, sum to 1)",
                  r"^fusion/.*_weight$"),
        ]),
    ]
    if moe_modalities:
        load = [
            chart(f"{name} expert load, {routing} (share of routing slots)",
                  rf"^moe/{name}/load_{kind}/expert_\d+$")
            for name in moe_modalities
            for kind, routing in (("train", "training routing, with gate noise"),
                                  ("eval", "evaluation routing, no noise"))]
        balance = [
            chart(f"imbalance, {routing} (0 = balanced)", rf"^moe/.*/imbalance_{kind}$")
            for kind, routing in (("train", "training routing"),
                                  ("eval", "evaluation routing"))]
        categories.append(layout_pb2.Category(title="Expert load", chart=load + balance))
    layout = layout_pb2.Layout(category=categories)
    tf.summary.experimental.write_raw_pb(
        custom_scalar_summary.pb(layout).SerializeToString(), step=0)


def write_expert_load(name, kind, gates):
    """Writes one modality's expert load and imbalance for gates [N, E].

    Call inside a default writer with its step set. Expert i's load is its
    share of the routing slots (the shares sum to 1; balanced is 1/E); the
    imbalance is CV²(importance) + CV²(load), what the balancing loss
    multiplies by `moe_loss_weight`.

    Args:
        name: the modality name ("text").
        kind: "train" (gates with the training noise) or "eval" (without).
        gates: numpy [N, E] gate values.

    Example:

    ```python
    with writer.as_default(step=epoch + 1):
        write_expert_load("text", "eval", gates)
    ```
    """
    import tensorflow as tf

    routing = ("training routing (gate noise as in training)" if kind == "train"
               else "evaluation routing (no gate noise)")
    load = (gates > 0).sum(0).astype("float64")
    shares = load / max(load.sum(), 1.0)
    for index, share in enumerate(shares):
        tf.summary.scalar(
            f"moe/{name}/load_{kind}/expert_{index}", float(share),
            description=f"Share of the {name} MoE's routing slots that expert {index} gets "
            f"on the validation split, {routing}. The shares sum to 1; balanced is "
            f"1/{len(shares)}.")
    importance = gates.sum(0)
    tf.summary.scalar(
        f"moe/{name}/imbalance_{kind}", _cv_squared(importance) + _cv_squared(load),
        description=f"CV² of the {name} experts' importance plus CV² of their load on the "
        f"validation split, {routing}: 0 is perfectly balanced. The training balancing "
        "loss is moe_loss_weight times this.")


def _cv_squared(values):
    if len(values) < 2:
        return 0.0
    return float(np.var(values, ddof=1) / (np.mean(values) ** 2 + 1e-10))


def write_seed_end(log_dir, task, result):
    """Writes a scored seed: selected epoch, its validation and test metrics, status.

    The scalars go at the selected epoch's step (the HParams columns), a
    note to `run/selected_epoch`, and the session ends as a success.

    Args:
        log_dir: the seed's TensorBoard directory.
        task: "regression" or "classification".
        result: the seed's result (`best_epoch`, `best_val_loss`, `valid`, `test`).

    Example:

    ```python
    write_seed_end("run/logs/seed_1", "regression", result)
    ```
    """
    step = result["best_epoch"] or 0
    with _writing(log_dir, step) as summary:
        summary.scalar("selected/epoch", step, description=(
            "The epoch kept for scoring (lowest validation loss), counted from 1."))
        for split, tag in (("valid", "selected/validation_{}"), ("test", "test/{}")):
            for metric in TASK_METRICS[task]:
                summary.scalar(tag.format(metric), result[split][metric], description=(
                    f"{description(metric)} On the {split} split with the weights of "
                    "the selected epoch."))
        summary.text("run/selected_epoch", _selected_note(task, result), description=(
            "The epoch kept and its metrics."))
    write_session_status(log_dir, success=True)


def _selected_note(task, result):
    if result["best_epoch"] is None:
        head = "No epoch had a finite validation loss: the last weights were scored."
    else:
        head = (f"Selected epoch **{result['best_epoch']}** (lowest validation loss, "
                f"{result['best_val_loss']:.4f}).")
    rows = ["| metric | validation | test |", "|---|---|---|"]
    rows += [f"| {m} | {result['valid'][m]:.4f} | {result['test'][m]:.4f} |"
             for m in TASK_METRICS[task]]
    return head + "\n\n" + "\n".join(rows)


def write_session_status(log_dir, success):
    """Ends a seed's HParams session as a success or a failure.

    Args:
        log_dir: the seed's TensorBoard directory.
        success: whether the seed finished.

    Example:

    ```python
    write_session_status("run/logs/seed_1", success=False)
    ```
    """
    from tensorboard.plugins.hparams import api_pb2
    from tensorboard.plugins.hparams import summary as hparams_summary

    status = api_pb2.STATUS_SUCCESS if success else api_pb2.STATUS_FAILURE
    with _writing(log_dir, 0) as summary:
        summary.experimental.write_raw_pb(
            hparams_summary.session_end_pb(status).SerializeToString(), step=0)


def setup_text(config, options, dataset, backbone, distribution, precision, versions):
    """The Markdown record of a run's set-up (the Text dashboard's `run/setup`).

    Args:
        config, options, dataset: the resolved config, options and `LoadedDataset`.
        backbone, distribution, precision: the backbone spec, `Distribution`, dtype policy.
        versions: the library versions (`results.versions()`).

    Example:

    ```python
    text = setup_text(config, options, dataset, "minilm", distribution, "float32", versions())
    ```
    """
    sizes = " / ".join(str(len(split)) for split in (dataset.train, dataset.valid, dataset.test))
    return "\n".join([
        f"**Command**: `{command_line()}`",
        "",
        f"**Data**: `{dataset.source}` ({dataset.format}); train / valid / test "
        f"utterances: {sizes}",
        "",
        f"**Backbone**: `{backbone}`; **precision** {precision}; **devices**: "
        f"{distribution.name} strategy, {distribution.num_replicas} replica(s), "
        f"{', '.join(name for name, _ in visible_gpus()) or 'CPU'}",
        "",
        "**Versions**: " + ", ".join(f"{name} {value}" for name, value in versions.items()),
        "",
        "**Configuration** (resolved):",
        "",
        "```",
        json.dumps(config.to_dict(), indent=1),
        "```",
        "",
        "**Training options**:",
        "",
        "```",
        json.dumps(options.to_dict(), indent=1),
        "```",
    ])


def command_line():
    """The command that started this process, as a user would type it (`glomo-keras ...`)."""
    program = pathlib.Path(sys.argv[0]).name
    if program in ("__main__.py", "glomo-keras"):
        program = "glomo-keras"
    return shlex.join([program, *sys.argv[1:]])


def write_run_text(log_root, seeds, name, text, step):
    """Writes one Markdown text summary into every seed's TensorBoard run.

    Args:
        log_root, seeds: the run's `logs` folder and its seeds (`seed_<S>` sub-folders).
        name, text: "setup" or "results" (the tag is `run/<name>`), and the Markdown.
        step: the step it is shown at.

    Example:

    ```python
    write_run_text("run/logs", [1, 2], "results", results_text(results), step=10)
    ```
    """
    for seed in seeds:
        with _writing(pathlib.Path(log_root) / f"seed_{seed}", step) as summary:
            summary.text(f"run/{name}", text, description=f"The run's {name}.")


@contextlib.contextmanager
def _writing(log_dir, step):
    """`tf.summary`, with a writer of `log_dir` as the default at `step` (closed after)."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default(step=step):
        yield tf.summary
    writer.close()
