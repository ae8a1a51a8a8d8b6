"""`GLoMoSentimentAnalyzer`: raw utterances in, sentiment out; presets.

In KerasHub's `Task` manner the analyzer pairs the model with its
preprocessor, `predict`s on raw utterances and saves and loads both as a
preset folder that needs neither the training data nor the run:

```
preset/
  config.json          the GLoMo model (config, backbone config)
  model.weights.h5     its weights
  preprocessor.json    the GLoMoPreprocessor (layout, T, dims, columns,
                       tokenizer with its vocabulary)
  metadata.json        task, class names, dataset, versions, user metadata
```

Example:

```python
analyzer = GLoMoSentimentAnalyzer(model, preprocessor)
analyzer.save_to_preset("presets/mosei")
analyzer = GLoMoSentimentAnalyzer.from_preset("presets/mosei")
analyzer.analyze([{"words": ["so", "good"], "acoustic": a_rows, "visual": v_rows}])
# [{"sentiment": 1.7, "modality_weights": {"text": 0.5, ...}}]
```
"""

import json
import os
import pathlib
import shutil
import tempfile

import keras
import numpy as np

from glomo_keras.answers import describe_outputs
from glomo_keras.answers import softmax
from glomo_keras.data.preprocessor import GLoMoPreprocessor

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
PREPROCESSOR_FILE = "preprocessor.json"
METADATA_FILE = "metadata.json"
PRESET_FILES = (CONFIG_FILE, WEIGHTS_FILE, PREPROCESSOR_FILE, METADATA_FILE)


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
        _check_fit(model, preprocessor)

    @property
    def config(self):
        """The model's `GLoMoConfig`."""
        return self.model.config

    def preprocess(self, utterances):
        """The model inputs of utterances (dicts or `Utterance`s), as numpy."""
        return self.preprocessor.encode(utterances)

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
        inputs = self.preprocess(utterances)
        outputs = self.model.predict(inputs, batch_size=batch_size, verbose=0)
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
        """Writes the preset folder (atomically: all files or none).

        Args:
            preset_dir: the folder to create.
            overwrite: replace an existing preset there.

        Raises:
            FileExistsError: the folder exists and `overwrite` is False.
        """
        preset_dir = pathlib.Path(preset_dir)
        if preset_dir.exists() and not overwrite:
            raise FileExistsError(f"{preset_dir} exists; pass overwrite=True to replace it")
        preset_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{preset_dir.name}-",
                                                dir=preset_dir.parent))
        try:
            _write_json(staging / CONFIG_FILE, keras.saving.serialize_keras_object(self.model))
            self.model.save_weights(staging / WEIGHTS_FILE)
            _write_json(staging / PREPROCESSOR_FILE,
                        keras.saving.serialize_keras_object(self.preprocessor))
            _write_json(staging / METADATA_FILE, {
                "task": self.config.task,
                "class_names": list(self.config.class_names or []) or None,
                "dataset": self.config.dataset,
                "versions": {"keras": keras.__version__},
                **self.metadata,
            })
            if preset_dir.exists():
                shutil.rmtree(preset_dir)
            os.replace(staging, preset_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return preset_dir

    @classmethod
    def from_preset(cls, preset_dir):
        """Loads a preset folder written by `save_to_preset`.

        Raises:
            FileNotFoundError: a preset file is missing (named).
        """
        preset_dir = pathlib.Path(preset_dir)
        for name in PRESET_FILES:
            if not (preset_dir / name).is_file():
                raise FileNotFoundError(
                    f"{preset_dir / name} is missing: not a glomo_keras preset "
                    f"(expected {list(PRESET_FILES)})")
        import glomo_keras.model  # noqa: F401  (registers GLoMo for deserialisation)

        model = keras.saving.deserialize_keras_object(_read_json(preset_dir / CONFIG_FILE))
        model.load_weights(preset_dir / WEIGHTS_FILE)
        preprocessor = keras.saving.deserialize_keras_object(
            _read_json(preset_dir / PREPROCESSOR_FILE))
        metadata = _read_json(preset_dir / METADATA_FILE)
        return cls(model, preprocessor, metadata)


def _check_fit(model, preprocessor):
    """Refuses a preprocessor whose outputs do not fit the model's inputs."""
    if not isinstance(preprocessor, GLoMoPreprocessor):
        raise TypeError(f"expected a GLoMoPreprocessor, found {type(preprocessor).__name__}")
    config = model.config
    preprocessor.to_settings(config.task, config.class_names).check_fits(config)


def _write_json(path, value):
    path.write_text(json.dumps(value, indent=2), encoding="utf-8")


def _read_json(path):
    return json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
