"""`GLoMoSentimentAnalyzer`: raw utterances in, sentiment out; presets.

Like a KerasHub `Task` it pairs the model with its preprocessor and saves
both as a preset folder in KerasHub's layout (`glomo_keras.artifacts`),
which `keras_hub.upload_preset` publishes and `from_preset` loads.

Example:

```python
analyzer = GLoMoSentimentAnalyzer(model, preprocessor)
analyzer.save_to_preset("presets/mosei")
analyzer = GLoMoSentimentAnalyzer.from_preset("presets/mosei")
analyzer.analyze([{"words": ["so", "good"], "acoustic": a_rows, "visual": v_rows}])
# [{"sentiment": 1.7, "modality_weights": {"text": 0.5, ...}}]
```
"""

import datetime
import json
import pathlib

import keras
import keras_hub
import numpy as np

import glomo_keras
from glomo_keras import artifacts
from glomo_keras.answers import describe_outputs
from glomo_keras.answers import softmax
from glomo_keras.data.preprocessor import GLoMoPreprocessor
from glomo_keras.errors import MissingFileError


class GLoMoSentimentAnalyzer:
    """A GLoMo model and its preprocessor: raw utterances → predictions.

    Args:
        model: a built `GLoMo`.
        preprocessor: the `GLoMoPreprocessor` its data was encoded with.
        metadata: an optional JSON-ready dict kept in presets (e.g. the run,
            its metrics).

    Example:

    ```python
    analyzer = GLoMoSentimentAnalyzer.from_preset("runs/mosei/preset")
    outputs = analyzer.predict(utterances)   # numpy: prediction, weights, ...
    ```
    """

    def __init__(self, model, preprocessor, metadata=None):
        self.model = model
        self.preprocessor = preprocessor
        self.metadata = dict(metadata or {})
        if not isinstance(preprocessor, GLoMoPreprocessor):
            raise TypeError(f"expected a GLoMoPreprocessor, found {type(preprocessor).__name__}")
        # Export, presets and a finished run all pair a model and a preprocessor here.
        preprocessor.check_fits(model.config)

    @property
    def config(self):
        """The model's `GLoMoConfig`."""
        return self.model.config

    def predict(self, utterances, batch_size=32):
        """The model outputs of raw utterances.

        Args:
            utterances: a list of `Utterance`s or dicts with their fields
                (see `GLoMoPreprocessor.raw_inputs`).
            batch_size: utterances per model call.

        Returns:
            dict of numpy arrays: `prediction`, `global_weights`,
            `local_weights`, and for classification `probabilities` (softmax
            of the logits).
        """
        outputs = self.model.predict(self.preprocessor.encode(utterances), batch_size=batch_size,
                                     verbose=0)
        outputs = {name: np.asarray(value, np.float32) for name, value in outputs.items()}
        if self.config.task == "classification":
            outputs["probabilities"] = softmax(outputs["prediction"])
        return outputs

    def analyze(self, utterances, batch_size=32):
        """One readable answer per utterance, as the REST `:analyze` gives.

        Returns:
            a list of dicts: `sentiment` (regression) or `probabilities` and
            `label` (classification), and `modality_weights`.
        """
        outputs = self.predict(utterances, batch_size)
        return describe_outputs(outputs, self.config.task, self.config.class_names)

    def save_to_preset(self, preset_dir, overwrite=False):
        """Writes the preset folder in KerasHub's layout (no optimizer state), atomically.

        The files are written in a hidden folder beside `preset_dir`, then
        renamed; an existing preset is replaced only once the new one is complete.

        Args:
            preset_dir: the folder to create.
            overwrite: replace an existing preset there.

        Returns:
            `pathlib.Path` of the preset folder.

        Raises:
            FileExistsError: the folder exists and `overwrite` is False.

        Example:

        ```python
        analyzer.save_to_preset("presets/mosei")
        keras_hub.upload_preset("hf://me/glomo_mosei", "presets/mosei")
        ```
        """
        preset_dir = pathlib.Path(preset_dir)
        with artifacts.directory_written_atomically(preset_dir, overwrite) as staging:
            model_config = keras.saving.serialize_keras_object(self.model)
            model_config.pop("compile_config", None)
            artifacts.write_json_atomically(staging / artifacts.CONFIG_FILE, model_config)
            self.model.save_weights(staging / artifacts.WEIGHTS_FILE)
            preprocessor_config = keras.saving.serialize_keras_object(self.preprocessor)
            tokenizer = self.preprocessor.tokenizer
            if tokenizer is not None:
                # The vocabulary is the tokenizer's asset; it is not repeated in the JSON.
                preprocessor_config["config"]["tokenizer"]["config"]["vocabulary"] = None
                tokenizer.save_to_preset(str(staging))
            artifacts.write_json_atomically(staging / artifacts.PREPROCESSOR_FILE,
                                            preprocessor_config)
            artifacts.write_json_atomically(staging / artifacts.METADATA_FILE, {
                **self.metadata,
                "keras_version": keras.__version__,
                "keras_hub_version": keras_hub.__version__,
                "glomo_keras_version": glomo_keras.__version__,
                "parameter_count": self.model.count_params(),
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
            })
        return preset_dir

    @classmethod
    def from_preset(cls, preset):
        """Loads a preset written by `save_to_preset` (or by glomo-keras 0.1.0).

        Args:
            preset: a preset folder, or a `kaggle://` / `hf://` handle of a
                published one (downloaded, see `artifacts.local_preset`).

        Returns:
            A `GLoMoSentimentAnalyzer`.

        Raises:
            MissingFileError: the folder or one of its files is missing (named).
            OfflineError: a handle that could not be downloaded.

        Example:

        ```python
        analyzer = GLoMoSentimentAnalyzer.from_preset("runs/mosei/preset")
        ```
        """
        preset_dir = artifacts.local_preset(preset)
        for name in artifacts.PRESET_FILES:
            if not (preset_dir / name).is_file():
                raise MissingFileError(
                    f"{preset_dir / name} is missing: not a glomo_keras preset "
                    f"(expected {list(artifacts.PRESET_FILES)})")
        import glomo_keras.model  # noqa: F401  (registers GLoMo for deserialisation)

        model = keras.saving.deserialize_keras_object(
            _read_json(preset_dir / artifacts.CONFIG_FILE))
        model.load_weights(preset_dir / artifacts.WEIGHTS_FILE)
        metadata = _read_json(preset_dir / artifacts.METADATA_FILE)
        preprocessor_config = _read_json(preset_dir / artifacts.PREPROCESSOR_FILE)
        if "task" not in preprocessor_config["config"]:  # a 0.1.0 preset
            preprocessor_config["config"].update(
                {key: metadata.get(key) for key in ("task", "class_names", "dataset")})
        preprocessor = keras.saving.deserialize_keras_object(preprocessor_config)
        if (preset_dir / artifacts.TOKENIZER_FILE).is_file():
            preprocessor.tokenizer.load_preset_assets(str(preset_dir))
        return cls(model, preprocessor, metadata)


def _read_json(path):
    return json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
