"""`Predictor`: an exported GLoMo SavedModel, run with TensorFlow alone.

It loads `serving_default` with `tf.saved_model.load` and the
`GLoMoPreprocessor` from the export's asset, never a Keras model. `predict`
runs model inputs; `analyze` runs raw utterances, through the `analyze`
signature of `<version>/analyze/` for word-level models (MAG, HKT; the
preprocessor in the graph) and through the preprocessor and
`serving_default` for MMSA and CHERMA. A server takes each apart into
`check_inputs` / `encode_instances`, `run_batch` (several requests in one
call) and `check_finite` / `describe`.
"""

import json

import numpy as np
import tensorflow as tf

from glomo_keras.answers import describe_outputs
from glomo_keras.artifacts import ANALYZE_FOLDER, ANALYZE_SIGNATURE, ASSET_NAME
from glomo_keras.artifacts import OUTPUT_NAMES, SIGNATURE_NAME, resolve_version
from glomo_keras.data import DataFormatError, GLoMoPreprocessor
from glomo_keras.data.common import OPTIONAL_FIELDS
from glomo_keras.data.common import UTTERANCE_FIELDS

# Inputs that share their sequence axis (axis 1), and the preprocessor's limit on it.
SEQUENCE_GROUPS = (
    (("token_ids", "padding_mask", "segment_ids"), "sequence_length"),
    (("text_features", "text_mask"), "sequence_length"),
    (("acoustic", "acoustic_mask"), "acoustic_length"),
    (("visual", "visual_mask"), "visual_length"),
)

# The feature fields of an `analyze` instance and their `stored_dims` keys.
FEATURE_FIELDS = (("acoustic", "acoustic"), ("visual", "visual"), ("text_features", "text"))


class Predictor:
    """Runs an exported GLoMo SavedModel with TensorFlow only.

    Args:
        path: a version folder of `glomo_keras.export.export_saved_model`, or
            its model base folder (the highest version is used).

    Attributes:
        path, version, name (the base folder's, or the run's), preprocessor
        (the `GLoMoPreprocessor` saved with the model), model_config,
        export_metadata, input_specs and output_specs (`{name: tf.TensorSpec}`
        of `serving_default`), signatures (`{name: (input specs, output specs)}`).

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
        self._analyze = None
        if (self.path / ANALYZE_FOLDER / "saved_model.pb").is_file():
            import tensorflow_text  # noqa: F401  (registers the WordPiece ops of the graph)

            self._analyze = tf.saved_model.load(
                str(self.path / ANALYZE_FOLDER)).signatures[ANALYZE_SIGNATURE]
        # `{signature name: (input specs, output specs)}` of every signature served.
        self.signatures = {SIGNATURE_NAME: (self.input_specs, self.output_specs)}
        if self._analyze is not None:
            self.signatures[ANALYZE_SIGNATURE] = (self._analyze.structured_input_signature[1],
                                                  self._analyze.structured_outputs)

    @property
    def pads_to_longest(self):
        """Whether `run_batch` pads raw utterances to the batch's longest, not to T."""
        return self.raw_analyze and bool(self.model_config.get("length_aware"))

    @property
    def raw_analyze(self):
        """Whether `analyze` runs raw utterances through the `analyze` signature."""
        return self._analyze is not None

    def predict(self, inputs):
        """Runs `serving_default` on model inputs: `{"prediction", "global_weights", ...}`.

        Args:
            inputs: `{name: array-like}` with every input of the signature, batch
                axis first; a ValueError naming the input the model cannot take
                (or if the outputs are not finite).

        Example:

        ```python
        predictor.predict(predictor.encode_instances(utterances))["prediction"].shape   # (N, 1)
        ```
        """
        outputs = self.run_batch([self.check_inputs(inputs)])[0]
        check_finite(outputs)
        return outputs

    def check_inputs(self, inputs, signature=SIGNATURE_NAME):
        """The inputs of `signature` as arrays of its dtypes, or a ValueError naming the input.

        Args:
            inputs: `{name: array-like}`: model inputs as for `predict`, or
                the `analyze` signature's padded raw utterances (`words`
                strings [B, W], the empty string pads; features [B, W, dim]).
            signature: one of `signatures` (`payload.check_signature` refuses others).

        Example:

        ```python
        arrays = predictor.check_inputs({"token_ids": [[2, 7, 3]], ...})
        ```
        """
        arrays = _checked_arrays(inputs, self.signatures[signature][0])
        _check_batch_size(arrays)
        if signature == SIGNATURE_NAME:
            self._check_lengths(arrays)
            self._check_ids(arrays)
        return arrays

    def run_batch(self, batch):
        """Runs the inputs of several requests in one call: one `{output: array}` per input dict.

        Args:
            batch: input dicts of `check_inputs` or `encode_instances`, equal in
                shape but for the batch axis (raw utterances are padded here); a
                ValueError if the model refuses them.

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
        for group, limit in SEQUENCE_GROUPS:
            limit = getattr(self.preprocessor, limit)
            lengths = {name: arrays[name].shape[1] for name in group if name in arrays}
            if not lengths:
                continue
            if len(set(lengths.values())) > 1:
                raise ValueError(
                    f"inputs {sorted(lengths)} must share their sequence length; "
                    f"found {lengths}"
                )
            name, length = next(iter(lengths.items()))
            if not 1 <= length <= limit:
                raise ValueError(
                    f"input {name!r} has {length} steps; this model takes 1 to "
                    f"{limit} (the padded length of its training data)"
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

    def analyze(self, instances):
        """Sentiment (or class probabilities) and modality weights of utterances.

        Args:
            instances: a list of dicts (`metadata()["preprocessing"]["request_fields"]`):
                MAG `{"words", "acoustic", "visual"}`, one row per word; HKT also
                `"context"`; MMSA `"text_bert"`, CHERMA `"text_features"`.

        Returns:
            one `answers.describe_outputs` dict per instance; a ValueError
            names a bad instance and field.

        Example:

        ```python
        predictor.analyze([{"words": ["not", "good"], "acoustic": a_rows, "visual": v_rows}])
        # [{"sentiment": -1.2, "modality_weights": {...}}] (`truncated_to` where cut)
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
        allowed = UTTERANCE_FIELDS[self.preprocessor.format]
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
        per = "per word" if "words" in UTTERANCE_FIELDS[self.preprocessor.format] else "per step"
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
        """The `analyze` answer of each instance of one (finite) output dict of `run_batch`.

        Args:
            outputs: `{output name: np.ndarray}` of N instances.
            words_kept: optional, from `words_kept`: a number adds `"truncated_to"`.

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
        """The signatures, version and preprocessing of the model, as JSON-ready data.

        `name`, `version`, `signature_name`, the `inputs` and `outputs` of
        `serving_default`, the `signatures` (inputs and outputs of each),
        `preprocessing`, `model_config` and `export_metadata`.

        Example:

        ```python
        predictor.metadata()["inputs"]["acoustic"]   # {"dtype": "float32", "shape": [...]}
        ```
        """
        preprocessor = self.preprocessor
        signatures = {
            name: {"inputs": _describe_specs(inputs), "outputs": _describe_specs(outputs)}
            for name, (inputs, outputs) in self.signatures.items()
        }
        return {
            "name": self.name,
            "version": self.version,
            "signature_name": SIGNATURE_NAME,
            "signatures": signatures,
            **signatures[SIGNATURE_NAME],
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
                "request_fields": list(UTTERANCE_FIELDS[preprocessor.format]),
            },
            "model_config": self.model_config,
            "export_metadata": self.export_metadata,
        }


def _as_list(columns):
    return None if columns is None else list(columns)


def check_finite(outputs):
    """Refuses (ValueError) outputs that are not finite, naming the instances.

    Finite inputs can still overflow inside the model; `NaN` is no JSON.

    Args:
        outputs: `{name: np.ndarray}` with the batch axis first.

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
    check_input_names(inputs, specs)
    return {name: _checked_array(name, inputs[name], spec) for name, spec in specs.items()}


def check_input_names(inputs, specs, where=""):
    """Refuses inputs missing from `specs` or unknown to it; `where` starts the message."""
    missing = sorted(set(specs) - set(inputs))
    unknown = sorted(set(inputs) - set(specs))
    if missing or unknown:
        expected = ", ".join(f"{name!r} ({describe_spec(specs[name], row=bool(where))})"
                             for name in missing)
        raise ValueError(
            f"{where}expected the inputs {sorted(specs)}; missing [{expected}], unknown {unknown}"
        )


def describe_spec(spec, row=False):
    """`"float32 [B, ?, 5]"`: a signature input's dtype and shape (one instance's: `[?, 5]`)."""
    dims = ["B" if axis == 0 else ("?" if dim is None else str(dim))
            for axis, dim in enumerate(spec.shape.as_list())]
    return f"{spec.dtype.name} [{', '.join(dims[1:] if row else dims)}]"


def _as_array(tensor):
    """A signature output as a numpy array; strings become str."""
    array = tensor.numpy()
    return array.astype(str) if array.dtype == object else array


def _checked_array(name, value, spec):
    """`value` as a numpy array of the spec's dtype, or a ValueError naming `name`."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        array = None
    if spec.dtype == tf.string:
        if array is None or array.dtype.kind != "U" or array.ndim != spec.shape.rank:
            raise ValueError(f"input {name!r} must be a rectangular array of strings "
                             f"({describe_spec(spec)}; the empty string pads)")
        return array
    if array is None or array.dtype.kind not in "iuf":
        raise ValueError(
            f"input {name!r} must be a rectangular array of numbers "
            f"({describe_spec(spec)}, all rows of the same length)"
        )
    rank = spec.shape.rank
    if array.ndim != rank:
        raise ValueError(
            f"input {name!r} must have rank {rank} ({describe_spec(spec)}), "
            f"found shape {array.shape}"
        )
    for axis, dim in enumerate(spec.shape.as_list()):
        if dim is not None and array.shape[axis] != dim:
            raise ValueError(
                f"input {name!r} must have {dim} values on axis {axis} ({describe_spec(spec)}), "
                f"found shape {array.shape}"
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


def _padded_raw_batch(batch):
    """The raw inputs of several requests padded to their longest and stacked.

    Words pad with the empty string, features and sentence ids with zeros:
    what the preprocessor ignores.
    """
    tensors = {}
    for name in batch[0]:
        arrays = [inputs[name] for inputs in batch]
        if arrays[0].ndim > 1:
            width = max(array.shape[1] for array in arrays)
            fill = "" if arrays[0].dtype.kind in "OU" else 0
            arrays = [np.pad(array, [(0, 0), (0, width - array.shape[1])]
                             + [(0, 0)] * (array.ndim - 2), constant_values=fill)
                      for array in arrays]
        stacked = np.concatenate(arrays)
        tensors[name] = tf.constant(stacked.astype(str) if stacked.dtype == object else stacked)
    return tensors
