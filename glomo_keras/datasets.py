"""The dataset table: everything glomo-keras knows about each paper dataset.

One `DatasetInfo` per dataset holds its name and aliases, the paper's
hyper-parameters (appendix Table 1, spec §5), T, the stored feature dims
and the columns the released code keeps, the task and class names, the
file layout, the default data path and backbone. `GLoMoConfig`, the data
readers and the command line all read this table, so each fact is written
once (`get_dataset(name)`).
"""

import dataclasses
import pathlib

from glomo_keras.errors import UsageError
from glomo_keras.errors import closest_names

REGRESSION = "regression"
CLASSIFICATION = "classification"
# The Table 1 values that say how to train (`TrainingOptions`), not what
# the model is (`GLoMoConfig`).
TRAINING_HYPER_PARAMETERS = ("batch_size", "learning_rate", "epochs")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """The facts of one dataset.

    Args:
        name: the canonical name (`config.dataset`, run and model folders).
        title: the name papers use, e.g. "CMU-MOSI".
        layout: the data layout of the released files: "mag", "hkt",
            "mmsa" or "cherma".
        task: "regression" or "classification".
        max_sequence_length: T.
        feature_dims: the stored dims `{"text", "acoustic", "visual"}`.
        default_data: the path the recipes look for.
        hyper_parameters: the Table 1 column (batch size, encoder layers,
            hidden dim, learning rate) and the released code's epochs.
        aliases: other spellings accepted anywhere a dataset is named, and
            words that identify the dataset in a file path.
        class_names: the classes in label order (classification), else None.
        acoustic_columns, visual_columns: the stored columns kept,
            `(start, stop)`, or None for all.
        text_encoder: "bert" (token ids through BERT) or "features".
        default_backbone: the paper's backbone, or None for feature text.
    """

    name: str
    title: str
    layout: str
    task: str
    max_sequence_length: int
    feature_dims: dict
    default_data: str
    hyper_parameters: dict
    aliases: tuple = ()
    class_names: tuple = None
    acoustic_columns: tuple = None
    visual_columns: tuple = None
    text_encoder: str = "bert"
    default_backbone: str = "bert_base_en_uncased"

    def config_defaults(self):
        """The `GLoMoConfig` fields this dataset fixes (training ones: `training_defaults`).

        Example:

        ```python
        GLoMoConfig(dataset="mosi", **get_dataset("mosi").config_defaults())
        ```
        """
        same_names = ("max_sequence_length", "acoustic_columns", "visual_columns", "task",
                      "class_names", "text_encoder")
        return {
            **{name: value for name, value in self.hyper_parameters.items()
               if name not in TRAINING_HYPER_PARAMETERS},
            **{f"{modality}_dim": width for modality, width in self.feature_dims.items()},
            **{name: getattr(self, name) for name in same_names},
        }

    def training_defaults(self):
        """The `TrainingOptions` fields this dataset fixes (batch size, learning rate, epochs).

        Example:

        ```python
        get_dataset("mosei").training_defaults()
        # {"batch_size": 64, "learning_rate": 1e-05, "epochs": 100}
        ```
        """
        return {name: self.hyper_parameters[name] for name in TRAINING_HYPER_PARAMETERS}


def _hyper(batch_size, num_layers, hidden_dim, learning_rate, epochs):
    return dict(batch_size=batch_size, num_layers=num_layers, hidden_dim=hidden_dim,
                learning_rate=learning_rate, epochs=epochs)


DATASETS = {
    info.name: info
    for info in (
        DatasetInfo(
            name="mosi", title="CMU-MOSI", aliases=("cmu-mosi", "cmu_mosi"), layout="mag",
            task=REGRESSION, max_sequence_length=60,
            feature_dims={"text": 768, "acoustic": 74, "visual": 47},
            default_data="datasets/mosi.pkl", hyper_parameters=_hyper(240, 4, 48, 4e-5, 70),
        ),
        DatasetInfo(
            name="mosei", title="CMU-MOSEI", aliases=("cmu-mosei", "cmu_mosei"), layout="mag",
            task=REGRESSION, max_sequence_length=80,
            feature_dims={"text": 768, "acoustic": 74, "visual": 35},
            default_data="datasets/mosei.pkl", hyper_parameters=_hyper(64, 3, 192, 1e-5, 100),
        ),
        DatasetInfo(
            name="urfunny", title="UR-FUNNY", aliases=("ur_funny", "ur-funny", "humor"),
            layout="hkt", task=CLASSIFICATION, class_names=("not_humorous", "humorous"),
            max_sequence_length=80, feature_dims={"text": 768, "acoustic": 81, "visual": 91},
            acoustic_columns=(0, 60), visual_columns=(55, 91),
            default_data="datasets/urfunny.pkl", hyper_parameters=_hyper(220, 3, 112, 2e-5, 100),
        ),
        DatasetInfo(
            name="mustard", title="MUStARD", aliases=("sarcasm", "sarcas"),
            layout="hkt", task=CLASSIFICATION, class_names=("not_sarcastic", "sarcastic"),
            max_sequence_length=70, feature_dims={"text": 768, "acoustic": 81, "visual": 91},
            acoustic_columns=(0, 60), visual_columns=(55, 91),
            default_data="datasets/mustard.pkl", hyper_parameters=_hyper(64, 3, 160, 2e-5, 5),
        ),
        DatasetInfo(
            name="cherma", title="CHERMA", layout="cherma", task=CLASSIFICATION,
            class_names=("anger", "disgust", "fear", "happy", "neutral", "sad", "surprise"),
            max_sequence_length=50,
            feature_dims={"text": 1024, "acoustic": 1024, "visual": 2048},
            text_encoder="features", default_data="datasets/CHERMA0723", default_backbone=None,
            hyper_parameters=_hyper(400, 7, 256, 2e-5, 20),
        ),
    )
}


def _key(text):
    return str(text).lower().replace("-", "").replace("_", "")


def get_dataset(name):
    """The `DatasetInfo` of a name or alias (case, `-` and `_` ignored).

    Raises:
        UsageError: an unknown name; the message names the closest known ones.

    Example:

    ```python
    get_dataset("CMU-MOSEI").name   # 'mosei'
    ```
    """
    wanted = _key(name)
    for info in DATASETS.values():
        if wanted in {_key(info.name), _key(info.title)} | {_key(a) for a in info.aliases}:
            return info
    names = sorted(DATASETS) + sorted(a for info in DATASETS.values() for a in info.aliases)
    raise UsageError(
        f"Unknown dataset {name!r}"
        f"{closest_names(name, names) or f'; expected one of {sorted(DATASETS)}'}"
    )


def guess_dataset(path, layout, stored_dims):
    """The `DatasetInfo` a file's path names (its last three parts), else its dims, or None.

    MOSEI is checked before MOSI, which its name contains. By the dims:
    MOSI and MOSEI (both MAG) differ in their visual dims; CHERMA is the
    only CHERMA-layout dataset; UR-FUNNY and MUStARD share their dims.

    Example:

    ```python
    guess_dataset("data/mosei.pkl", "mag", {"visual": 35}).name   # 'mosei'
    guess_dataset("x.pkl", "mag", {"visual": 47}).name            # 'mosi'
    ```
    """
    text = "/".join(pathlib.Path(path).parts[-3:]).lower()
    for name in ("mosei", "mosi", "urfunny", "mustard", "cherma"):
        info = DATASETS[name]
        if any(word in text for word in (info.name,) + info.aliases):
            return info
    matches = [
        info for info in DATASETS.values()
        if info.layout == layout and all(
            stored_dims.get(m) in (None, info.feature_dims[m]) for m in ("acoustic", "visual"))
    ]
    return matches[0] if len(matches) == 1 else None
