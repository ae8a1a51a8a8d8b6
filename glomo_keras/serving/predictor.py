"""`Predictor`: an exported GLoMo SavedModel, run with TensorFlow alone.

The Predictor loads the `serving_default` signature with
`tf.saved_model.load` and the `GLoMoPreprocessor` from the export's
asset; it never builds a Keras model. `predict` runs model inputs.
`analyze` runs raw utterances: word-level models (MAG, HKT) through the
`analyze` signature of the raw-words SavedModel in `<version>/analyze/`,
whose preprocessor tokenises, aligns and pads in the graph as training did
(the same answers any TensorFlow runtime gives); MMSA and CHERMA models
through the export's `GLoMoPreprocessor` and `serving_default`. An utterance with
more WordPiece tokens than the model takes is cut, as in training, and its
answer says how many words were kept (`truncated_to`).

Each of them is three steps that a server can take apart to batch requests:
`check_inputs` / `encode_instances` (validate one request), `run_batch`
(one call of the signature for the inputs of several requests) and
`check_finite` / `describe` (one request's answer).
"""

import json

import numpy as np
import tensorflow as tf

from glomo_keras.answers import describe_outputs
from glomo_keras.artifacts import ANALYZE_FOLDER
from glomo_keras.artifacts import ANALYZE_SIGNATURE
from glomo_keras.artifacts import ASSET_NAME
from glomo_keras.artifacts import OUTPUT_NAMES
from glomo_keras.artifacts import SIGNATURE_NAME
from glomo_keras.artifacts import resolve_version
from glomo_keras.data import DataFormatError, GLoMoPreprocessor
from glomo_keras.data.common import OPTIONAL_FIELDS
from glomo_keras.data.common import UTTERANCE_FIELDS as REQUEST_FIELDS

# Inputs that share their sequence axis (axis 1).
SEQUENCE_GROUPS = (
    ("token_ids", "padding_mask", "segment_ids"),
    ("text_features", "text_mask"),
    ("acoustic", "acoustic_mask"),
    ("visual", "visual_mask"),
)

# The feature fields of an `analyze` instance and their `stored_dims` keys.
FEATURE_FIELDS = (("acoustic", "acoustic"), ("visual", "visual"), ("text_features", "text"))


class Predictor:
    """Runs an exported GLoMo SavedModel with TensorFlow only.

    Args:
        path: a version folder written by
            `glomo_keras.export.export_saved_model`, or its model base folder
            (the highest version is used).

    Attributes:
        path: the version folder loaded.
        version: its version number.
        name: the model name: the base folder's name.
        preprocessor: the `GLoMoPreprocessor` saved with the model (what
            its data is: format, T, widths, columns, task, classes).
        model_config: the `GLoMoConfig.to_dict()` saved with the model.
        export_metadata: the `metadata` dict given at export.
        input_specs: `{name: tf.TensorSpec}` of the signature's inputs.
        output_specs: `{name: tf.TensorSpec}` of its outputs.

    Example:

    ```python
    predictor = Predictor("saved_models/mosi")
    predictor.analyze([{"words": ["so", "good"],
                        "acoustic": [[0.1] * 74] * 2, "visual": [[0.2] * 47] * 2}])
    # [{"sentiment": 1.7, "modality_weights": {"text": 0.6, ...}}]
    ```
    """

    def __init__(self, path):
        self.path, self.version = resolve_version(path)
        base = self.path.parent
        # A run's exports (`<run>/saved_model/<version>`) are named after the run.
        self.name = base.parent.name if base.name == "saved_model" else base.name
        self._loaded = tf.saved_model.load(str(self.path))
        if SIGNATURE_NAME not in self._loaded.signatures:
            raise ValueError(f"{self.path} has no {SIGNATURE_NAME!r} signature")
        self._function = self._loaded.signatures[SIGNATURE_NAME]
        self.input_specs = self._function.structured_input_signature[1]
        self.output_specs = self._function.structured_outputs
        missing = sorted(set(OUTPUT_NAMES) - set(self.output_specs))
        if missing:
            raise ValueError(f"{self.path}: the signature lacks the outputs {missing}")
        asset_path = self.path / "assets" / ASSET_NAME
        if not asset_path.is_file():
            raise FileNotFoundError(f"{asset_path} is missing: not a glomo_keras export")
        asset = json.loads(asset_path.read_text(encoding="utf-8"))
        self.model_config = asset["model_config"]
        # A length_aware model computes over the batch's longest utterance
        # (MMSA's text arrives padded to T); the `analyze` signature of a
        # word-level model pads so itself. Exports of glomo-keras 0.1 hold
        # the preprocessing settings instead of the preprocessor.
        self.preprocessor = GLoMoPreprocessor.from_saved(asset["preprocessing"])
        if self.model_config.get("length_aware") and self.preprocessor.format != "mmsa":
            self.preprocessor = self.preprocessor.with_padding("longest")
        self.export_metadata = asset["metadata"]
        self._check_outputs()
        self._analyze = _load_raw_words_model(self.path / ANALYZE_FOLDER)

    @property
    def signatures(self):
        """`{signature name: (input specs, output specs)}` of every signature served."""
        signatures = {SIGNATURE_NAME: (self.input_specs, self.output_specs)}
        if self._analyze is not None:
            signatures[ANALYZE_SIGNATURE] = (self._analyze.structured_input_signature[1],
                                             self._analyze.structured_outputs)
        return signatures

    @property
    def pads_to_longest(self):
        """Whether `run_batch` pads raw utterances to the batch's longest, not to T.

        True for a `length_aware` word-level model: a batch costs its longest
        utterance, so a server batches utterances of similar length together.
        """
        return self.raw_analyze and bool(self.model_config.get("length_aware"))

    @property
    def raw_analyze(self):
        """Whether `analyze` runs raw utterances through the `analyze` signature."""
        return self._analyze is not None

    def _check_outputs(self):
        """The signature predicts as many values as the model config has outputs.

        (The preprocessor and the model were checked to fit at export.)
        """
        from glomo_keras.config import GLoMoConfig

        config = GLoMoConfig.from_dict(self.model_config)
        width = self.output_specs["prediction"].shape[-1]
        if width != config.output_dim:
            raise ValueError(
                f"{self.path}: the signature predicts {width} values but the model "
                f"config has {config.output_dim} outputs")

    def predict(self, inputs):
        """Runs the signature on model inputs.

        Args:
            inputs: `{name: array-like}` with every input of the signature,
                batch axis first (spec "Inputs"); ids non-negative integers,
                masks 0 or 1, features finite numbers.

        Returns:
            `{"prediction", "global_weights", "local_weights": np.ndarray}`.

        Raises:
            ValueError: a missing or unknown input, a value of the wrong kind,
                rank or feature dim, inconsistent batch or sequence lengths,
                a sequence longer than the model was trained for, a
                non-finite feature value, a negative id, a mask other than
                0/1, a boolean; or outputs that are not finite (inputs too
                large for the model). The message names the input.

        Example:

        ```python
        outputs = predictor.predict(predictor.encode_instances(utterances))
        outputs["prediction"].shape   # (N, 1)
        ```
        """
        outputs = self.run_batch([self.check_inputs(inputs)])[0]
        check_finite(outputs)
        return outputs

    def check_inputs(self, inputs):
        """Model inputs as arrays of the signature's dtypes, or a ValueError.

        Args:
            inputs: `{name: array-like}` as for `predict`.

        Returns:
            `{name: np.ndarray}`, ready for `run_batch`.

        Raises:
            ValueError: as for `predict`, naming the input.

        Example:

        ```python
        arrays = predictor.check_inputs({"token_ids": [[2, 7, 3]], ...})
        ```
        """
        arrays = _checked_arrays(inputs, self.input_specs)
        self._check_lengths(arrays)
        self._check_ids(arrays)
        return arrays

    def check_raw_inputs(self, inputs):
        """The `analyze` signature's inputs as arrays, or a ValueError naming the input.

        Args:
            inputs: `{name: array-like}`: the padded raw utterances
                (`words` strings [B, W], the empty string pads; features
                [B, W, dim]; see `glomo_keras.export`).

        Returns:
            `{name: np.ndarray}`, ready for `run_batch`.

        Raises:
            ValueError: the model has no `analyze` signature, or an input is
                missing, unknown, of the wrong type or shape.

        Example:

        ```python
        predictor.check_raw_inputs({"words": [["so", "good"]], "acoustic": ..., ...})
        ```
        """
        if self._analyze is None:
            raise ValueError(
                f"this {self.preprocessor.format!r} model has no {ANALYZE_SIGNATURE!r} signature "
                f"(the signatures are {sorted(self.signatures)})"
            )
        arrays = _checked_arrays(inputs, self._analyze.structured_input_signature[1])
        _check_batch_size(arrays)
        return arrays

    def run_batch(self, batch):
        """Runs the inputs of several requests in one call of the signature.

        Args:
            batch: a list of input dicts from `check_inputs` (or
                `encode_instances`), whose arrays have equal shapes but for
                the batch axis.

        Returns:
            one `{"prediction", "global_weights", "local_weights":
            np.ndarray}` per input dict, in order (raw utterances of a
            classification model also get `probabilities` and `label`,
            the class names as str).

        Raises:
            ValueError: the model refused the inputs.

        Example:

        ```python
        first, second = predictor.run_batch([arrays_a, arrays_b])
        ```
        """
        sizes = [len(next(iter(inputs.values()))) for inputs in batch]
        if "words" in batch[0]:
            function, tensors = self._analyze, _padded_raw_batch(batch)
        else:
            function = self._function
            tensors = {
                name: tf.constant(np.concatenate([inputs[name] for inputs in batch]))
                for name in self.input_specs
            }
        try:
            outputs = function(**tensors)
        except tf.errors.InvalidArgumentError as error:
            raise ValueError(f"the model rejected the inputs: {error.message}") from None
        arrays = {name: _as_array(value) for name, value in outputs.items()}
        bounds = np.cumsum([0] + sizes)
        return [
            {name: array[start:stop] for name, array in arrays.items()}
            for start, stop in zip(bounds[:-1], bounds[1:])
        ]

    def _check_lengths(self, arrays):
        _check_batch_size(arrays)
        limits = self._sequence_limits()
        for group in SEQUENCE_GROUPS:
            lengths = {name: arrays[name].shape[1] for name in group if name in arrays}
            if not lengths:
                continue
            if len(set(lengths.values())) > 1:
                raise ValueError(
                    f"inputs {sorted(lengths)} must share their sequence length; "
                    f"found {lengths}"
                )
            name, length = next(iter(lengths.items()))
            if not 1 <= length <= limits[group[0]]:
                raise ValueError(
                    f"input {name!r} has {length} steps; this model takes 1 to "
                    f"{limits[group[0]]} (the padded length of its training data)"
                )

    def _check_ids(self, arrays):
        """Refuses negative ids (the embedding would wrap them) and masks other than 0/1."""
        vocabulary_size = self._vocabulary_size()
        for name, array in arrays.items():
            if array.dtype.kind not in "iu" or not array.size:
                continue
            low, high = int(array.min()), int(array.max())
            if name.endswith("_mask") and (low < 0 or high > 1):
                raise ValueError(f"input {name!r} is a mask: its values must be 0 or 1")
            if low < 0:
                raise ValueError(f"input {name!r} holds {low}; ids must be non-negative")
            if name == "token_ids" and vocabulary_size and high >= vocabulary_size:
                raise ValueError(
                    f"input 'token_ids' holds {high}; this model's vocabulary has "
                    f"{vocabulary_size} tokens (ids 0 to {vocabulary_size - 1})"
                )

    def _vocabulary_size(self):
        tokenizer = self.preprocessor.tokenizer
        return 0 if tokenizer is None else tokenizer.vocabulary_size()

    def _sequence_limits(self):
        preprocessor = self.preprocessor
        return {
            "token_ids": preprocessor.sequence_length,
            "text_features": preprocessor.sequence_length,
            "acoustic": preprocessor.acoustic_length,
            "visual": preprocessor.visual_length,
        }

    def analyze(self, instances):
        """Sentiment (or class probabilities) and modality weights of utterances.

        Each instance is encoded by the model's `GLoMoPreprocessor`, as in
        training. The modality weights are the fusion's global weights `W_g`
        (spec §3.5), text, acoustic, visual; a modality left out has 0.

        Args:
            instances: a list of dicts with the fields of the model's format
                (`REQUEST_FIELDS`), e.g. MAG: `{"words": [...], "acoustic":
                [[...] per word], "visual": [[...] per word]}` with the
                stored feature dims; HKT's `"context"` rows come first.

        Returns:
            one dict per instance. Regression: `{"sentiment": float,
            "modality_weights": {"text", "acoustic", "visual": float}}`.
            Classification: `{"probabilities": {class: float}, "label":
            class name, "modality_weights": {...}}`, the probabilities a
            softmax of the logits.

        Raises:
            ValueError: an instance does not fit the model (the message names
                the instance index and the field), or its outputs are not
                finite (feature values too large for the model).

        Example:

        ```python
        predictor.analyze([{"words": ["not", "good"],
                            "acoustic": acoustic_rows, "visual": visual_rows}])
        # [{"sentiment": -1.2, "modality_weights": {"text": 0.5, ...}}]
        ```
        """
        outputs = self.run_batch([self.encode_instances(instances)])[0]
        check_finite(outputs)
        return self.describe(outputs, self.words_kept(instances))

    def words_kept(self, instances, truncate=True):
        """How many words of each utterance the model reads, or None where all.

        The model takes `max_length` WordPiece tokens, special tokens
        included; the words past them are cut, as in training
        (`GLoMoPreprocessor.words_kept`).

        Args:
            instances: `analyze` instances, already checked.
            truncate: False refuses an utterance that would be cut.

        Raises:
            ValueError: `truncate` is False and an utterance is too long.

        Example:

        ```python
        predictor.words_kept([{"words": ["so"] * 500, ...}])   # [46]
        ```
        """
        words = [list(instance.get("words") or ()) for instance in instances]
        kept = self.preprocessor.words_kept(words)
        for index, count in enumerate(kept):
            if count is not None and not truncate:
                raise ValueError(
                    f"instance {index}, field 'words': {len(words[index])} words make more "
                    f"than the {self.preprocessor.sequence_length} WordPiece tokens this model "
                    f"takes (its first {count} words fit); send a shorter utterance, or allow "
                    'cutting it with "truncate": true'
                )
        return kept

    def encode_instances(self, instances):
        """The model inputs of `analyze` instances, or a ValueError naming the instance.

        Besides what `GLoMoPreprocessor.raw_inputs` checks (the format's
        fields only): non-empty words of valid Unicode, numbers (no booleans).

        Args:
            instances: as for `analyze`.

        Example:

        ```python
        arrays = predictor.encode_instances([{"words": ["so", "good"], ...}])
        ```
        """
        if not isinstance(instances, (list, tuple)) or not instances:
            raise ValueError("instances must be a non-empty list of utterances")
        for index, instance in enumerate(instances):
            self._check_instance(index, instance)
        try:
            if self._analyze is not None:
                return self.preprocessor.raw_inputs(instances)
            inputs = self.preprocessor.encode(instances)
        except DataFormatError as error:
            where = f"instance {error.index}" if error.index is not None else "request"
            if error.field is not None:
                where += f", field {error.field!r}"
            raise ValueError(f"{where}: {error.detail}") from None
        return self.check_inputs(inputs)

    def _check_instance(self, index, instance):
        """What `raw_inputs` (refusing unknown fields) lets through but a request must not hold."""
        allowed = REQUEST_FIELDS[self.preprocessor.format]
        if not isinstance(instance, dict):
            raise ValueError(
                f"instance {index}: expected an object with the fields "
                f"{list(allowed)}, found a {type(instance).__name__}"
            )
        for field in allowed:
            if field not in OPTIONAL_FIELDS and instance.get(field) is None:
                raise ValueError(
                    f"instance {index}: the field {field!r} is missing; expected "
                    f"{self.expected_field(field)}"
                )
        if "words" in allowed:
            _check_words(index, "words", instance.get("words"), allow_empty=False)
            context = instance.get("context")
            if isinstance(context, (list, tuple)):
                for sentence in context:
                    _check_words(index, "context", sentence, allow_empty=True)
        for field in ("acoustic_length", "visual_length"):
            value = instance.get(field)
            if isinstance(value, bool) or (value is not None and not isinstance(value, int)):
                raise ValueError(
                    f"instance {index}, field {field!r}: expected an integer, "
                    f"found {value!r}"
                )
        self._check_features(index, instance)

    def expected_field(self, field):
        """What an `analyze` instance's `field` holds, in words (for error messages)."""
        dims = self.preprocessor.stored_dims
        per = "per word" if "words" in REQUEST_FIELDS[self.preprocessor.format] else "per step"
        texts = {
            "words": "a non-empty list of words (strings)",
            "context": "a list of sentences, each a list of words",
            "text_bert": "token ids, attention mask and segment ids: "
                         f"[3, {self.preprocessor.sequence_length}]",
            "acoustic_length": "an integer", "visual_length": "an integer",
        }
        for name, modality in FEATURE_FIELDS:
            texts[name] = f"a list of rows of {dims.get(modality)} numbers, one {per}"
        return texts[field]

    def _check_features(self, index, instance):
        """Refuses booleans and names the expected dim when rows have the wrong width."""
        for field, modality in FEATURE_FIELDS:
            if field not in instance:
                continue
            try:
                shape = np.shape(instance[field])
            except ValueError:
                continue  # ragged: `raw_inputs` names the problem
            if len(shape) <= 2 and _holds_bool(instance[field]):
                raise ValueError(
                    f"instance {index}, field {field!r}: feature values must be "
                    "numbers, found true/false"
                )
            dim = self.preprocessor.stored_dims.get(modality)
            if dim is not None and len(shape) == 2 and shape[0] and shape[1] != dim:
                raise ValueError(
                    f"instance {index}, field {field!r}: expected rows of {dim} values "
                    f"(the model's stored {modality} dim), found shape {shape}"
                )

    def describe(self, outputs, words_kept=None):
        """The `analyze` answer of each instance of one output dict.

        Args:
            outputs: `{"prediction", "global_weights", ...: np.ndarray}` of
                N instances (from `run_batch`), finite.
            words_kept: optional, from `words_kept`: an instance with a
                number there gets `"truncated_to": number` in its answer.

        Returns:
            a list of N dicts, as `analyze` returns.

        Example:

        ```python
        predictor.describe(predictor.run_batch([arrays])[0])
        ```
        """
        answers = describe_outputs(outputs, self.preprocessor.task,
                                   self.preprocessor.class_names)
        for answer, kept in zip(answers, words_kept or ()):
            if kept is not None:
                answer["truncated_to"] = kept
        return answers

    def metadata(self):
        """The signature, version and preprocessing of the model, as JSON-ready data.

        Returns:
            dict with `name`, `version`, `signature_name`, `inputs` and
            `outputs` of `serving_default` (`{name: {"dtype": str, "shape":
            [int or None]}}`), `signatures` (`{name: {"inputs", "outputs"}}`
            of every signature),
            `preprocessing` (format, task, class names, lengths, feature dims
            before and after the column selection, vocabulary size, dataset),
            `model_config` and `export_metadata`.

        Example:

        ```python
        predictor.metadata()["inputs"]["acoustic"]
        # {"dtype": "float32", "shape": [None, None, 74]}
        ```
        """
        preprocessor = self.preprocessor
        return {
            "name": self.name,
            "version": self.version,
            "signature_name": SIGNATURE_NAME,
            "signatures": {
                name: {"inputs": _describe_specs(inputs), "outputs": _describe_specs(outputs)}
                for name, (inputs, outputs) in self.signatures.items()
            },
            "inputs": _describe_specs(self.input_specs),
            "outputs": _describe_specs(self.output_specs),
            "preprocessing": {
                "format": preprocessor.format,
                "task": preprocessor.task,
                "class_names": preprocessor.class_names,
                "max_length": preprocessor.sequence_length,
                "acoustic_length": preprocessor.acoustic_length,
                "visual_length": preprocessor.visual_length,
                "stored_dims": preprocessor.stored_dims,
                "input_dims": preprocessor.input_dims,
                "acoustic_columns": _as_list(preprocessor.acoustic_columns),
                "visual_columns": _as_list(preprocessor.visual_columns),
                "vocabulary_size": self._vocabulary_size(),
                "dataset": preprocessor.dataset,
                "request_fields": list(REQUEST_FIELDS[preprocessor.format]),
            },
            "model_config": self.model_config,
            "export_metadata": self.export_metadata,
        }


def _as_list(columns):
    return None if columns is None else list(columns)


def _load_raw_words_model(folder):
    """The `analyze` signature of the raw-words SavedModel in `folder`, or None."""
    if not (folder / "saved_model.pb").is_file():
        return None
    import tensorflow_text  # noqa: F401  (registers the WordPiece ops of the graph)

    return tf.saved_model.load(str(folder)).signatures[ANALYZE_SIGNATURE]


def check_finite(outputs):
    """Refuses outputs that are not finite, naming the instances.

    Finite inputs can still overflow inside the model (features near the
    float32 limit); such an answer would be `NaN` in JSON, which is invalid.

    Args:
        outputs: `{name: np.ndarray}` with the batch axis first.

    Raises:
        ValueError: some output of some instance is nan or inf.

    Example:

    ```python
    check_finite(predictor.run_batch([arrays])[0])
    ```
    """
    bad = np.zeros(len(outputs["prediction"]), bool)
    for array in outputs.values():
        if array.dtype.kind == "f":
            bad |= ~np.isfinite(array.reshape(len(array), -1)).all(axis=1)
    if bad.any():
        raise ValueError(
            f"the model's outputs for instances {np.flatnonzero(bad).tolist()[:10]} are "
            "not finite (nan or inf): their input values are too large for the model"
        )


def _check_batch_size(arrays):
    sizes = {name: array.shape[0] for name, array in arrays.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"the inputs have different batch sizes: {sizes}")
    if 0 in sizes.values():
        raise ValueError("the batch is empty")


def _check_words(index, field, words, allow_empty):
    """Words must be non-empty strings of valid Unicode; `raw_inputs` checks the rest."""
    if not isinstance(words, (list, tuple)):
        return  # `raw_inputs` names the problem
    if not words and not allow_empty:
        raise ValueError(f"instance {index}, field {field!r}: the utterance has no words")
    for position, word in enumerate(words):
        if not isinstance(word, str):
            continue
        if not word.strip():
            raise ValueError(
                f"instance {index}, field {field!r}: word {position} is empty or blank"
            )
        if not word.isascii():
            try:
                word.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(
                    f"instance {index}, field {field!r}: word {position} is not valid "
                    "Unicode text (it holds a lone surrogate such as \\ud800)"
                ) from None


def _holds_bool(value):
    """Whether a nested list (or an array) of numbers holds a boolean."""
    if isinstance(value, (bool, np.bool_)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "b"
    if not isinstance(value, (list, tuple)):
        return False
    if value and not isinstance(value[0], (list, tuple, np.ndarray)):
        return bool(set(map(type, value)) & {bool, np.bool_})
    return any(_holds_bool(item) for item in value)


def _describe_specs(specs):
    return {
        name: {"dtype": spec.dtype.name, "shape": spec.shape.as_list()}
        for name, spec in sorted(specs.items())
    }


def _checked_arrays(inputs, specs):
    """`{name: array}` of every input of `specs`, or a ValueError naming the input."""
    if not isinstance(inputs, dict):
        raise ValueError(
            f"inputs must map input names to arrays, found a {type(inputs).__name__}"
        )
    missing = sorted(set(specs) - set(inputs))
    unknown = sorted(set(inputs) - set(specs))
    if missing or unknown:
        expected = ", ".join(f"{name!r} ({describe_spec(specs[name])})" for name in missing)
        raise ValueError(
            f"expected the inputs {sorted(specs)}; missing [{expected}], unknown {unknown}"
        )
    return {name: _checked_array(name, inputs[name], spec) for name, spec in specs.items()}


def describe_spec(spec):
    """`"float32 [B, ?, 5]"`: a signature input's dtype and shape, for messages."""
    return f"{spec.dtype.name} {_shape_text(spec.shape)}"


def _as_array(tensor):
    """A signature output as a numpy array; strings become str."""
    array = tensor.numpy()
    return array.astype(str) if array.dtype == object else array


def _checked_array(name, value, spec):
    """`value` as a numpy array of the spec's dtype, or a ValueError naming `name`."""
    if spec.dtype == tf.string:
        return _checked_strings(name, value, spec)
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        array = None
    if array is None or array.dtype.kind not in "iuf":
        raise ValueError(
            f"input {name!r} must be a rectangular array of numbers "
            f"({describe_spec(spec)}, all rows of the same length)"
        )
    rank = spec.shape.rank
    if array.ndim != rank:
        raise ValueError(
            f"input {name!r} must have rank {rank} (shape "
            f"{_shape_text(spec.shape)}), found shape {array.shape}"
        )
    for axis, dim in enumerate(spec.shape.as_list()):
        if dim is not None and array.shape[axis] != dim:
            raise ValueError(
                f"input {name!r} must have {dim} values on axis {axis} (shape "
                f"{_shape_text(spec.shape)}), found shape {array.shape}"
            )
    if _holds_bool(value):
        raise ValueError(f"input {name!r} must hold numbers, found true/false")
    if spec.dtype.is_integer:
        info = np.iinfo(spec.dtype.as_numpy_dtype)
        integral = np.isfinite(array).all() and (np.round(array) == array).all()
        if not integral or array.min(initial=0) < info.min or array.max(initial=0) > info.max:
            raise ValueError(
                f"input {name!r} must hold {spec.dtype.name} integers ({describe_spec(spec)})")
        return array.astype(spec.dtype.as_numpy_dtype)
    with np.errstate(over="ignore"):
        array = array.astype(spec.dtype.as_numpy_dtype)
    if not np.isfinite(array).all():
        raise ValueError(f"input {name!r} holds non-finite values (nan, inf or too large)")
    return array


def _checked_strings(name, value, spec):
    """`value` as an array of str of the spec's rank, or a ValueError naming `name`."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        array = None
    if array is None or array.dtype.kind != "U" or array.ndim != spec.shape.rank:
        raise ValueError(
            f"input {name!r} must be a rectangular array of strings ({describe_spec(spec)}; "
            'the empty string pads)'
        )
    return array


def _shape_text(shape):
    dims = ["B" if axis == 0 else ("?" if dim is None else str(dim))
            for axis, dim in enumerate(shape.as_list())]
    return f"[{', '.join(dims)}]"


def _padded_raw_batch(batch):
    """The raw inputs of several requests, padded to their longest and stacked.

    Words pad with the empty string, features and sentence ids with zeros,
    so padding is what the preprocessor ignores.
    """
    tensors = {}
    for name in batch[0]:
        arrays = [inputs[name] for inputs in batch]
        width = max(array.shape[1] for array in arrays) if arrays[0].ndim > 1 else None
        if width is not None:
            fill = "" if arrays[0].dtype == object else 0
            arrays = [np.pad(array, [(0, 0), (0, width - array.shape[1])]
                             + [(0, 0)] * (array.ndim - 2), constant_values=fill)
                      for array in arrays]
        stacked = np.concatenate(arrays)
        tensors[name] = tf.constant(stacked.astype(str) if stacked.dtype == object else stacked)
    return tensors
