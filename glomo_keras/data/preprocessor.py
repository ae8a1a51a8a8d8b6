"""`GLoMoPreprocessor`: raw utterances -> model inputs, in TensorFlow ops.

The one encoder of the package: `glomo_keras.data.load` (over every split),
the analyzer and the SavedModel's `analyze` signature all run it. Like
KerasHub's preprocessors it always computes with TensorFlow (ragged
tensors), so it runs in `tf.data`, a `tf.function` and a signature on every
Keras backend. WordPiece: every word is tokenised on its own and all its
pieces (`##` pieces, split-off punctuation) get its feature row; that gives
the pieces of the joined text.

Layouts, their call inputs and outputs:

- `"words"` (MAG): `words` tf.string [B, W] (`""` pads; or ragged),
  `acoustic` [B, W, A], `visual` [B, W, V] as stored (row i is word i's).
  Outputs `token_ids`, `padding_mask`, `segment_ids` [B, T], `acoustic`
  [B, T, A'], `acoustic_mask`, `visual`, `visual_mask`; `[CLS]`, `[SEP]`
  and padding get zero rows.
- `"words_with_context"` (HKT): the same plus `context_words` [B, C],
  `context_acoustic`, `context_visual`, optionally `context_sentence_ids`
  [B, C] (non-decreasing) and `context_sentences` [B]. The text is
  `[CLS] context [SEP] punchline . [SEP]` with a "." between context
  sentences (it repeats the row of the word before it); a long pair loses
  the start of the context first, then the end of the punchline.
- `"token_ids"` (MMSA): `token_ids`, `padding_mask`, `segment_ids` [B, T]
  pass through; `acoustic`/`visual` [B, F, d] are cut or zero-padded to
  T_a/T_v, masked by `acoustic_length`/`visual_length` [B] or else by the
  text's `padding_mask`.
- `"features"` (CHERMA): `text_features`, `acoustic`, `visual` cut or
  zero-padded to T, T_a, T_v; `text_length`, `acoustic_length`,
  `visual_length` [B] say how many steps are real (default: all, or the
  row lengths of a ragged input). Outputs also `text_mask`.

Every layout keeps the `acoustic_columns`/`visual_columns` and replaces
non-finite values by 0; masks and ids are int32, features float32; one
unbatched utterance gives unbatched outputs. `padding="longest"` pads a
batch to its longest utterance, rounded up to a multiple of `PAD_MULTIPLE`
and at most T, for a `length_aware` model in serving (spec §8); MMSA's text
comes padded to T, so `"token_ids"` takes `"max_length"` only.
"""

import copy
import re

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from glomo_keras.data.checks import Checker
from glomo_keras.data.common import CLASSIFICATION, REGRESSION, UTTERANCE_FIELDS, Utterance
from glomo_keras.data.errors import DataFormatError

LAYOUTS = ("words", "words_with_context", "token_ids", "features")
WORD_LAYOUTS = ("words", "words_with_context")
# The data format (`"mag"`, ...) -> the preprocessor's layout.
FORMAT_LAYOUTS = {"mag": "words", "hkt": "words_with_context", "mmsa": "token_ids",
                  "cherma": "features"}
PADDINGS = ("max_length", "longest")
# `padding="longest"` rounds a batch's length up to a multiple of this.
PAD_MULTIPLE = 8
# From this many utterances in all splits on, `encode_splits` traces the
# preprocessor: a trace costs about a second, which op by op execution
# (each op dispatched from Python) makes up from about 10,000 utterances.
TRACE_FROM = 10000
LAYOUT_FORMATS = {layout: data_format for data_format, layout in FORMAT_LAYOUTS.items()}
# The input that tells the batch rank, per layout, and its unbatched rank.
PRIMARY_INPUTS = {"words": ("words", 1), "words_with_context": ("words", 1),
                  "token_ids": ("token_ids", 1), "features": ("text_features", 2)}
MODALITIES = ("acoustic", "visual")
# The special tokens of the word layouts: `[CLS] words [SEP]`, and
# `[CLS] context [SEP] punchline [SEP]` (the punchline ends with a ".").
SPECIAL_TOKEN_COUNTS = {"words": 2, "words_with_context": 3}
# What `call_with_lengths` gives besides the model inputs.
LENGTH_OUTPUTS = ("text_length", "truncated")
DOT = "."


@keras.saving.register_keras_serializable(package="glomo_keras")
class GLoMoPreprocessor(keras_hub.models.Preprocessor):
    """Turns raw utterances into GLoMo's model inputs with TensorFlow ops.

    A KerasHub preprocessor (it takes `(x, y, sample_weight)`, so
    `dataset.map(preprocessor)` works on `(inputs, label)`): eagerly it
    returns tensors of the Keras backend, in a graph TensorFlow tensors.
    Its config is also what the data is (layout, T, widths, columns, task,
    classes, dataset; the tokenizer carries the vocabulary): a run's
    `preprocessing.json`, a preset and a SavedModel keep it.

    Args:
        layout: `"words"` (MAG), `"words_with_context"` (HKT), `"token_ids"`
            (MMSA) or `"features"` (CHERMA).
        tokenizer: the backbone's KerasHub WordPiece tokenizer (word
            layouts; without one the layer only describes its data).
        sequence_length: T, the padded text tokens (CHERMA: text steps).
        acoustic_dim: acoustic columns as stored, before the selection.
        visual_dim: visual columns as stored, before the selection.
        acoustic_length: T_a, padded acoustic frames (MMSA, CHERMA); None
            means T, which word layouts always use.
        visual_length: T_v, the same for visual frames.
        text_dim: the stored text feature columns (CHERMA, required; MMSA's
            unused BERT features); None for words.
        acoustic_columns: the acoustic columns kept, or None for all.
        visual_columns: the visual columns kept, or None for all.
        padding: `"max_length"` or `"longest"` (see the module doc).
        task: `"regression"` or `"classification"`, the data's labels.
        class_names: the class names in label order (classification).
        dataset: the dataset table's name when known (`"mosi"`, ...).
        **kwargs: passed to `keras_hub.models.Preprocessor` (e.g. `name`).

    Example:

    ```python
    tokenizer = keras_hub.tokenizers.BertTokenizer(vocabulary=vocab, lowercase=True)
    preprocessor = GLoMoPreprocessor(
        "words", tokenizer, sequence_length=50, acoustic_dim=74, visual_dim=47)
    inputs = preprocessor({
        "words": [["so", "good", ""], ["playing", "it", "well"]],
        "acoustic": np.zeros((2, 3, 74), "float32"),
        "visual": np.zeros((2, 3, 47), "float32"),
    })
    inputs["token_ids"].shape   # (2, 50)
    train = tf_dataset.map(preprocessor)   # (raw inputs, label) -> (inputs, label)
    ```
    """

    def __init__(
        self,
        layout,
        tokenizer=None,
        sequence_length=None,
        acoustic_dim=None,
        visual_dim=None,
        acoustic_length=None,
        visual_length=None,
        text_dim=None,
        acoustic_columns=None,
        visual_columns=None,
        padding="max_length",
        task=REGRESSION,
        class_names=None,
        dataset=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
        if task not in (REGRESSION, CLASSIFICATION):
            raise ValueError(f"task must be regression or classification, not {task!r}")
        if task == CLASSIFICATION and not class_names:
            raise ValueError("a classification task needs class_names")
        if sequence_length is None or sequence_length < 3:
            raise ValueError(f"sequence_length must be at least 3, not {sequence_length}")
        if layout in WORD_LAYOUTS:
            for name, length in (("acoustic_length", acoustic_length),
                                 ("visual_length", visual_length)):
                if length not in (None, sequence_length):
                    raise ValueError(
                        f"layout {layout!r} aligns the features to the tokens, so "
                        f"{name} must be sequence_length={sequence_length}, not {length}"
                    )
        if layout == "features" and text_dim is None:
            raise ValueError("layout 'features' needs text_dim")
        if padding not in PADDINGS or (padding == "longest" and layout == "token_ids"):
            raise ValueError(
                f"padding must be one of {PADDINGS} ('max_length' for layout 'token_ids', "
                f"whose text comes padded to T), not {padding!r} (layout {layout!r})")
        self.padding = padding
        self.layout = layout
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        self.acoustic_dim = _positive(acoustic_dim, "acoustic_dim")
        self.visual_dim = _positive(visual_dim, "visual_dim")
        self.acoustic_length = int(acoustic_length or sequence_length)
        self.visual_length = int(visual_length or sequence_length)
        self.text_dim = None if text_dim is None else _positive(text_dim, "text_dim")
        self.acoustic_columns = _columns(acoustic_columns, self.acoustic_dim, "acoustic")
        self.visual_columns = _columns(visual_columns, self.visual_dim, "visual")
        self.task = task
        self.class_names = None if class_names is None else [str(n) for n in class_names]
        self.dataset = dataset
        self._eager = _EagerFunction(self._call_graph)
        self.built = True  # no weights: nothing to build

    def replace(self, source=None, **changes):
        """A preprocessor like this one (the same tokenizer) with `changes` to its config.

        Args:
            source: the data file, named by a `DataFormatError`; None raises
                the constructor's `ValueError` instead.
            **changes: constructor arguments, e.g. `acoustic_columns=[0, 1]`.

        Example:

        ```python
        preprocessor.replace(visual_columns=range(20))
        ```
        """
        config = {**self.get_config(), **changes, "tokenizer": self.tokenizer}
        try:
            return type(self)(**config)
        except ValueError as error:
            if source is None:
                raise
            raise DataFormatError(str(error), source=source)

    @property
    def format(self):
        """The data format: `"mag"`, `"hkt"`, `"mmsa"` or `"cherma"`."""
        return LAYOUT_FORMATS[self.layout]

    @property
    def stored_dims(self):
        """The feature widths as stored, before the column selection (`"text"`: CHERMA only)."""
        return {"acoustic": self.acoustic_dim, "visual": self.visual_dim, "text": self.text_dim}

    @property
    def input_dims(self):
        """The feature widths of the model inputs, after the column selection."""
        return {"acoustic": _selected(self.acoustic_dim, self.acoustic_columns),
                "visual": _selected(self.visual_dim, self.visual_columns),
                "text": self.text_dim if self.layout == "features" else None}

    def check_fits(self, config, source=None):
        """Raises `DataFormatError` unless this preprocessor makes the inputs of `config`'s model.

        The check that a model and its preprocessor fit (`load` for a
        config, `GLoMoSentimentAnalyzer`): the text input, the feature
        widths after the column selection, the task and the number of
        classes. The message names the config field and both values.

        Args:
            config: a `GLoMoConfig`.
            source: the data file, for the message; None for none.

        Example:

        ```python
        preprocessor.check_fits(model.config)
        ```
        """
        feature_text = self.layout == "features"
        if "t" in config.modalities and feature_text != (config.text_encoder == "features"):
            given = "text features" if feature_text else "token ids"
            raise DataFormatError(
                f"the {self.format!r} preprocessor gives {given} but the model's "
                f"text_encoder is {config.text_encoder!r}", source=source, field="text_encoder")
        dims = self.input_dims
        for letter, modality, width, field in (
                ("a", "acoustic", config.acoustic_input_dim, "acoustic_columns"),
                ("v", "visual", config.visual_input_dim, "visual_columns"),
                ("t" if feature_text else "", "text", config.text_dim, "text_dim")):
            if letter and letter in config.modalities and dims[modality] != width:
                raise DataFormatError(
                    f"the model input {modality!r} has {width} features but the "
                    f"preprocessor gives {dims[modality]}", source=source, field=field)
        if config.task != self.task:
            raise DataFormatError(
                f"the model's task is {config.task!r} but the preprocessor's is {self.task!r}",
                source=source, field="task")
        if config.task == CLASSIFICATION and config.output_dim != len(self.class_names):
            raise DataFormatError(
                f"the model has {config.output_dim} classes but the preprocessor names "
                f"{len(self.class_names)}: {self.class_names}",
                source=source, field="class_names")

    @classmethod
    def from_saved(cls, data):
        """The preprocessor of a saved JSON object, in today's or in the former format.

        Today's is `keras.saving.serialize_keras_object(preprocessor)`;
        glomo-keras 0.1 saved its settings (`format`, `max_length`,
        `stored_dims`, `vocabulary`, ...) instead.

        Args:
            data: the JSON object (a dict).

        Example:

        ```python
        preprocessor = GLoMoPreprocessor.from_saved(json.load(open("run/preprocessing.json")))
        ```
        """
        if "class_name" in data:
            # (KerasHub's `from_config` replaces the tokenizer's config in place.)
            return keras.saving.deserialize_keras_object(copy.deepcopy(data))
        tokenizer = None
        if data.get("vocabulary") is not None:
            from glomo_keras.data.tokenizer import make_tokenizer

            tokenizer = make_tokenizer(data["vocabulary"], data.get("lowercase", True),
                                       data.get("strip_accents", False))
        stored = data["stored_dims"]
        return cls(
            layout=FORMAT_LAYOUTS[data["format"]], tokenizer=tokenizer,
            sequence_length=data["max_length"], acoustic_dim=stored["acoustic"],
            visual_dim=stored["visual"], acoustic_length=data.get("acoustic_length"),
            visual_length=data.get("visual_length"),
            text_dim=stored.get("text"),
            acoustic_columns=data.get("acoustic_columns"),
            visual_columns=data.get("visual_columns"), task=data.get("task", REGRESSION),
            class_names=data.get("class_names"), dataset=data.get("dataset"))

    def with_padding(self, padding):
        """This preprocessor, or one like it that pads with `padding` (see the module doc).

        Example:

        ```python
        serving = preprocessor.with_padding("longest")   # a length_aware model's
        ```
        """
        return self if padding == self.padding else self.replace(padding=padding)

    def __call__(self, *args, **kwargs):
        # Eager inputs become TensorFlow tensors first: Keras refuses a dict
        # that mixes tensors and arrays.
        if tf.executing_eagerly():
            if args:
                args = (_as_tf_dict(args[0]), *args[1:])
            elif "x" in kwargs:
                kwargs["x"] = _as_tf_dict(kwargs["x"])
        return super().__call__(*args, **kwargs)

    def call(self, x, y=None, sample_weight=None):
        if tf.executing_eagerly():
            outputs = {name: keras.ops.convert_to_tensor(value) for name, value in
                       self._eager(_checked_dict(x)).items()}
        else:
            outputs = self._call_graph(_checked_dict(x))
        return keras.utils.pack_x_y_sample_weight(_without_lengths(outputs), y, sample_weight)

    def raw_inputs(self, utterances, source="request", split=None, ragged=False,
                   checked=False):
        """The dense (or ragged) raw inputs of this layout for a batch of utterances, checked.

        Args:
            utterances: `Utterance` objects or dicts of the format's
                `UTTERANCE_FIELDS` (stored widths; HKT's context rows first).
            source: what the utterances came from, for error messages.
            split: the split they came from, for error messages.
            ragged: word layouts: ragged tensors from the flat values (`load`).
            checked: word layouts: the utterances come from `read`, which
                checked their words and rows.

        Returns:
            dict of numpy arrays, batch axis first (the `analyze`
            signature's inputs): words padded with `""`, rows with zeros,
            sequences with their lengths; with `ragged`, ragged tensors.

        Raises:
            DataFormatError: an utterance does not fit (index and field named).

        Example:

        ```python
        batch = preprocessor.raw_inputs([{"words": ["so", "good"],
                                          "acoustic": a_rows, "visual": v_rows}])
        batch["words"]   # array([['so', 'good']], dtype=object)
        ```
        """
        checker = Checker(source)
        checker.dims = {m: d for m, d in self.stored_dims.items() if d is not None}
        checker.at(split)
        if not isinstance(utterances, (list, tuple)) or not utterances:
            raise DataFormatError("expected a non-empty list of utterances", source=source)
        checked_utterances = []
        for index, value in enumerate(utterances):
            checker.index = index
            checked_utterances.append(_as_utterance(value, checker, self.format))
        if self.layout in WORD_LAYOUTS:
            return _word_batch(checked_utterances, self.layout, checker.dims, checker, ragged,
                               checked)
        return _sequence_batch(checked_utterances, self.layout, checker.dims, checker)

    def encode(self, utterances, source="request", split=None):
        """The model inputs of utterances as numpy arrays: `raw_inputs`, then the layer.

        Args:
            utterances, source, split: as for `raw_inputs`.

        Raises:
            DataFormatError: an utterance does not fit (see `raw_inputs`).

        Example:

        ```python
        model.predict(preprocessor.encode([{"words": ["so", "good"], ...}]))
        ```
        """
        outputs = self._eager(_as_tf_dict(self.raw_inputs(utterances, source, split)))
        return {name: value.numpy() for name, value in _without_lengths(outputs).items()}

    def words_kept(self, word_lists):
        """How many words of each utterance T keeps, or None where all (always for MMSA, CHERMA).

        The layer keeps T WordPiece tokens, special tokens included; HKT
        loses its context first, so its punchline words (and their ".")
        are counted alone.

        Args:
            word_lists: a list of word lists (HKT: the punchlines).

        Example:

        ```python
        preprocessor.words_kept([["so"] * 500, ["good"]])   # [58, None] (T = 60)
        ```
        """
        if self.layout not in WORD_LAYOUTS:
            return [None] * len(word_lists)
        budget = self.sequence_length - SPECIAL_TOKEN_COUNTS[self.layout] - (
            self.layout == "words_with_context")
        flat = [word for words in word_lists for word in words]
        pieces = self.tokenizer(flat) if flat else []
        sizes = [len(word) for word in (pieces.to_list() if hasattr(pieces, "to_list")
                                        else pieces)]
        kept, start = [], 0
        for words in word_lists:
            count = int(np.sum(np.cumsum(sizes[start:start + len(words)]) <= budget))
            kept.append(count if count < len(words) else None)
            start += len(words)
        return kept

    def encode_splits(self, splits, source=None, checked=False):
        """The model inputs of whole splits, and which utterances T cut.

        Each split becomes ragged raw inputs (errors name the split and the
        utterance). From `TRACE_FROM` utterances on, the splits join one
        `tf.data` pipeline mapping the traced layer over them in parallel;
        fewer run op by op (no trace), joined into one batch where their
        inputs have one shape.

        Args:
            splits: dict split name -> `Utterance` objects.
            source: the file they came from, for error messages.
            checked: the utterances come from `read` (see `raw_inputs`).

        Returns:
            dict split name -> (inputs, truncated): the model input dict of
            numpy arrays [N, ...], and int32 [N], 1 where T (T_a, T_v) cut.

        Example:

        ```python
        inputs, truncated = preprocessor.encode_splits({"train": utterances})["train"]
        ```
        """
        raw = {name: {key: tf.convert_to_tensor(value) if isinstance(value, np.ndarray) else value
                      for key, value in self.raw_inputs(
                          utterances, source or "request", name, ragged=True,
                          checked=checked).items()}
               for name, utterances in splits.items()}
        counts = [len(utterances) for utterances in splits.values()]
        if sum(counts) < TRACE_FROM:
            # Splits of one shape (ragged words, or dense steps of one length)
            # run as one op-by-op call, cut back into splits; others one each.
            shapes = {tuple(tuple(value.shape[1:]) for value in inputs.values())
                      for inputs in raw.values()}
            parts = list(zip(raw.values(), counts))
            groups = [parts] if len(shapes) == 1 else [[part] for part in parts]
            encoded = []
            for group in groups:
                joined = {key: tf.concat([inputs[key] for inputs, _ in group], axis=0)
                          for key in group[0][0]}
                outputs = {key: value.numpy() for key, value
                           in self.call_with_lengths(joined, traced=False).items()}
                ends = np.cumsum([count for _, count in group])
                encoded += [{key: value[end - count:end] for key, value in outputs.items()}
                            for (_, count), end in zip(group, ends)]
        else:
            raw_splits = None
            for inputs in raw.values():
                split = tf.data.Dataset.from_tensors(inputs)
                # Joined, the splits get one (relaxed) shape: one trace of the graph.
                raw_splits = split if raw_splits is None else raw_splits.concatenate(split)
            encoded = list(raw_splits.map(
                self.call_with_lengths, num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True).as_numpy_iterator())
        result = {}
        for name, outputs in zip(splits, encoded):
            del outputs["text_length"]
            truncated = outputs.pop("truncated")
            result[name] = (outputs, truncated)
        return result

    def call_with_lengths(self, x, traced=True):
        """The layer's outputs plus `text_length` and `truncated` [B], in TensorFlow ops.

        `text_length` counts the text tokens before truncation, special
        tokens included (CHERMA: text steps); `truncated` is 1 where T, T_a
        or T_v cut the utterance. For `tf.data.Dataset.map` over
        `raw_inputs` and for reports.

        Args:
            x: the raw inputs (`raw_inputs`), dense or ragged.
            traced: eagerly, run the traced graph (a trace costs about a
                second, once) or, False, op by op. Ignored in a graph.

        Example:

        ```python
        encoded = raw.batch(1024).map(preprocessor.call_with_lengths)
        ```
        """
        if tf.executing_eagerly():
            return self._eager(_as_tf_dict(x), traced)
        # One traced function for every dataset mapped: a trace costs seconds.
        return self._eager.function(_checked_dict(x))

    def _call_graph(self, inputs):
        """The TensorFlow computation, batched or for one utterance, with the lengths."""
        if self.layout in WORD_LAYOUTS and self.tokenizer is None:
            raise ValueError(f"layout {self.layout!r} needs the backbone's tokenizer to encode")
        with tf.device("cpu"):
            name, unbatched_rank = PRIMARY_INPUTS[self.layout]
            unbatched = _required(inputs, name).shape.rank == unbatched_rank
            if unbatched:
                inputs = {key: tf.expand_dims(value, 0) for key, value in inputs.items()}
            encode = {"words": self._encode_words,
                      "words_with_context": self._encode_words_with_context,
                      "token_ids": self._encode_token_ids,
                      "features": self._encode_features}[self.layout]
            outputs, lengths = encode(inputs)
            outputs.update(lengths)
            if unbatched:
                outputs = {key: tf.squeeze(value, 0) for key, value in outputs.items()}
            return outputs

    # Word layouts (MAG, HKT).

    def _encode_words(self, inputs):
        words, n_words = _words(_required(inputs, "words"), "words")
        tables = {}
        for modality in MODALITIES:
            flat, starts = self._word_rows(inputs, modality, modality, n_words)
            tables[modality] = (flat, lambda rows, starts=starts: tf.where(
                rows >= 0, starts[:, None] + rows, rows))
        [(ids, rows)] = self._pieces([(words, tf.ragged.range(n_words))])
        special = SPECIAL_TOKEN_COUNTS["words"]
        length = tf.cast(ids.row_lengths(), tf.int32) + special
        ids, rows = _keep_window((ids, rows), 0, self.sequence_length - special)
        return self._assemble([(ids, rows)], tables), self._text_lengths(length)

    def _encode_words_with_context(self, inputs):
        words, n_words = _words(_required(inputs, "words"), "words")
        context, n_context = _words(_required(inputs, "context_words"), "context_words")
        # Row r < width is context word r's, row width + j punchline word j's.
        width = tf.reduce_max(tf.concat([n_context, [0]], axis=0))
        tables = {}
        for modality in MODALITIES:
            context_flat, context_starts = self._word_rows(
                inputs, f"context_{modality}", modality, n_context)
            flat, starts = self._word_rows(inputs, modality, modality, n_words)
            punchline_starts = starts + tf.shape(context_flat, out_type=tf.int64)[0] - width
            tables[modality] = (tf.concat([context_flat, flat], axis=0), lambda rows, c=(
                context_starts, punchline_starts): tf.where(
                    rows < 0, rows, tf.where(rows < width, c[0][:, None] + rows,
                                             c[1][:, None] + rows)))
        a_items, a_rows = self._context_items(inputs, context, n_context)
        # The punchline ends with a "." that repeats its last word's row.
        b_items = tf.concat([words, _column(DOT, n_words)], axis=1)
        b_rows = tf.concat([
            tf.ragged.range(n_words) + width,
            _column(tf.where(n_words > 0, width + n_words - 1, -1), n_words),
        ], axis=1)
        (a_ids, a_rows), (b_ids, b_rows) = self._pieces([(a_items, a_rows), (b_items, b_rows)])
        # Too long: drop from the start of the context, then the end of the punchline.
        budget = self.sequence_length - SPECIAL_TOKEN_COUNTS["words_with_context"]
        a_length, b_length = a_ids.row_lengths(), b_ids.row_lengths()
        drop = tf.minimum(tf.maximum(a_length + b_length - budget, 0), a_length)
        length = tf.cast(a_length + b_length, tf.int32) + SPECIAL_TOKEN_COUNTS[self.layout]
        a_ids, a_rows = _keep_window((a_ids, a_rows), drop, a_length)
        b_ids, b_rows = _keep_window((b_ids, b_rows), 0, budget - (a_length - drop))
        return (self._assemble([(a_ids, a_rows), (b_ids, b_rows)], tables),
                self._text_lengths(length))

    def _text_lengths(self, length):
        """`text_length` and `truncated` of a word layout, from the tokens before truncation."""
        return {"text_length": length,
                "truncated": tf.cast(length > self.sequence_length, tf.int32)}

    def _context_items(self, inputs, context, n_context):
        """The context's items and rows: before word j, `id[j] - id[j - 1]` "."s with row j - 1.

        (`id[-1]` = 0; no row for j = 0); trailing empty sentences add "."s
        with the last word's row.
        """
        batch = tf.shape(n_context)[:1]
        if "context_sentence_ids" in inputs:
            ids = tf.cast(_dense(inputs["context_sentence_ids"], 0), tf.int64)
            tf.debugging.assert_less_equal(
                n_context, tf.fill(batch, tf.shape(ids, out_type=tf.int64)[1]),
                message="context_sentence_ids needs one id per context word")
        else:
            ids = tf.zeros(tf.shape(context.to_tensor()), tf.int64)
        real = tf.range(tf.shape(ids, out_type=tf.int64)[1])[None, :] < n_context[:, None]
        previous = tf.concat([tf.zeros_like(ids[:, :1]), ids[:, :-1]], axis=1)
        dots = tf.where(real, ids - previous, 0)
        tf.debugging.assert_non_negative(
            dots, message="context_sentence_ids must be >= 0 and non-decreasing")
        padded_ids = tf.pad(ids, [[0, 0], [0, 1]])
        last_id = tf.gather(padded_ids, tf.maximum(n_context - 1, 0), batch_dims=1)
        last_id = tf.where(n_context > 0, last_id, -1)
        sentences = last_id + 1
        if "context_sentences" in inputs:
            given = tf.cast(tf.reshape(inputs["context_sentences"], [-1]), tf.int64)
            sentences = tf.maximum(given, sentences)
        trailing = tf.maximum(sentences - 1, 0) - tf.maximum(last_id, 0)
        # Each word becomes its "."s, then itself.
        dots = tf.RaggedTensor.from_tensor(dots, lengths=n_context).flat_values
        counts = dots + 1
        position = tf.ragged.range(counts).flat_values
        is_word = position == tf.repeat(dots, counts)
        word_index = tf.repeat(tf.ragged.range(n_context).flat_values, counts)
        strings = tf.where(is_word, tf.repeat(context.flat_values, counts), DOT)
        rows = tf.where(is_word, word_index, word_index - 1)
        per_utterance = tf.reduce_sum(context.with_flat_values(counts), axis=1)
        items = tf.RaggedTensor.from_row_lengths(strings, per_utterance)
        rows = tf.RaggedTensor.from_row_lengths(rows, per_utterance)
        trailing_items = tf.RaggedTensor.from_row_lengths(
            tf.fill([tf.reduce_sum(trailing)], DOT), trailing)
        trailing_rows = tf.RaggedTensor.from_row_lengths(
            tf.repeat(n_context - 1, trailing), trailing)
        return (tf.concat([items, trailing_items], axis=1),
                tf.concat([rows, trailing_rows], axis=1))

    def _word_rows(self, inputs, name, modality, n_words):
        """One modality's rows, checked, selected, finite: flat [R, d'], and starts [B]."""
        rows = _required(inputs, name)
        self._check_features(rows, name, modality)
        if isinstance(rows, tf.RaggedTensor):
            n_rows, starts, flat = rows.row_lengths(), rows.row_starts(), rows.flat_values
        else:
            shape = tf.shape(rows, out_type=tf.int64)
            n_rows = tf.fill(tf.shape(n_words), shape[1])
            starts = tf.range(shape[0]) * shape[1]
            flat = tf.reshape(rows, [-1, tf.shape(rows)[2]])
        flat = self._finite_columns(tf.ensure_shape(
            tf.cast(flat, tf.float32), [None, getattr(self, f"{modality}_dim")]), modality)
        words_name = "context_words" if name.startswith("context_") else "words"
        tf.debugging.assert_less_equal(
            n_words, n_rows,
            message=f"{name} needs one row per word of {words_name} (row i belongs to word i)")
        return flat, starts

    def _pieces(self, segments):
        """Per (items, rows) segment, ragged: the WordPiece ids [B, None] and each piece's item row.

        Each distinct item is tokenised once, on its own (one tokenizer call).
        """
        items = tf.concat([segment_items.flat_values for segment_items, _ in segments], 0)
        distinct, index = tf.unique(items)
        pieces = self.tokenizer(distinct)
        if isinstance(pieces, list):  # eagerly, KerasHub tokenizes in Python
            pieces = tf.RaggedTensor.from_row_lengths(
                tf.constant([piece for word in pieces for piece in word], tf.int32),
                tf.constant([len(word) for word in pieces], tf.int64))
        if not isinstance(pieces, tf.RaggedTensor):  # a tokenizer that pads
            pieces = tf.RaggedTensor.from_tensor(pieces, padding=self._special_id("[PAD]"))
        pieces = tf.gather(tf.cast(pieces, tf.int32), index)
        results, start = [], 0
        for segment_items, segment_rows in segments:
            stop = start + tf.shape(segment_items.flat_values)[0]
            segment_pieces = pieces[start:stop]
            rows = tf.repeat(tf.cast(segment_rows.flat_values, tf.int32),
                             segment_pieces.row_lengths())
            ids = segment_items.with_flat_values(segment_pieces).merge_dims(1, 2)
            results.append((ids, ids.with_flat_values(rows)))
            start = stop
        return results

    def _special_id(self, token):
        token_id = self.tokenizer.token_to_id(token)
        if token_id is None:
            raise ValueError(f"the tokenizer's vocabulary lacks {token}")
        return int(token_id)

    def _assemble(self, segments, tables):
        """`[CLS] a [SEP] (b [SEP])` padded to T, with each token's feature row.

        `tables`: modality -> (flat rows, locate: rows [B, T] -> indices in
        them); row -1 (special tokens, padding) gathers a zero row.
        """
        # [CLS], then each segment and its [SEP].
        longest = tf.reduce_max(tf.add_n(
            [tf.cast(segment.row_lengths(), tf.int32) + 1 for segment, _ in segments]) + 1)
        steps = self._padded_steps(longest, self.sequence_length)
        position = tf.range(steps)[None, :]
        token_ids = tf.where(position == 0, self._special_id("[CLS]"), self._special_id("[PAD]"))
        rows = segment_ids = tf.zeros_like(position) - 1
        start = tf.ones([segments[0][0].nrows(), 1], tf.int32)
        for index, (segment, segment_rows) in enumerate(segments):
            length = tf.cast(segment.row_lengths(), tf.int32)[:, None]
            inside = (position >= start) & (position < start + length)
            offset = tf.clip_by_value(position - start, 0, steps - 1)
            token_ids = tf.where(inside, _shifted(segment, offset, steps), token_ids)
            rows = tf.where(inside, _shifted(segment_rows, offset, steps), rows)
            end = position == start + length
            token_ids = tf.where(end, self._special_id("[SEP]"), token_ids)
            segment_ids = tf.where(inside | end, index, segment_ids)
            start = start + length + 1
        outputs = {
            "token_ids": token_ids,
            "padding_mask": tf.cast(position < start, tf.int32),
            "segment_ids": tf.maximum(segment_ids, 0),
        }
        for modality in MODALITIES:
            flat, locate = tables[modality]
            table = tf.pad(flat, [[1, 0], [0, 0]])
            outputs[modality] = tf.gather(table, locate(tf.cast(rows, tf.int64)) + 1)
            outputs[f"{modality}_mask"] = tf.cast(rows >= 0, tf.int32)
        return outputs

    # Sequence layouts (MMSA, CHERMA).

    def _encode_token_ids(self, inputs):
        outputs = {}
        truncated = tf.constant(False)
        for name in ("token_ids", "padding_mask", "segment_ids"):
            value = tf.cast(_required(inputs, name), tf.int32)
            outputs[name] = _checked_width(value, self.sequence_length, name)
        for modality in MODALITIES:
            steps = getattr(self, f"{modality}_length")
            frames = self._features(_required(inputs, modality), modality, modality)
            truncated = truncated | (tf.shape(frames)[1] > steps)
            outputs[modality] = _fit_steps(frames, steps)
            length_name = f"{modality}_length"
            if length_name in inputs:
                outputs[f"{modality}_mask"] = _length_mask(inputs[length_name], steps)
            elif steps == self.sequence_length:
                outputs[f"{modality}_mask"] = outputs["padding_mask"]
            else:
                raise ValueError(
                    f"{modality} without {length_name} shares the text mask, so it needs "
                    f"{self.sequence_length} frames, not {modality}_length={steps}"
                )
        batch = tf.shape(outputs["token_ids"])[:1]
        return outputs, {
            "text_length": tf.reduce_sum(outputs["padding_mask"], axis=1),
            "truncated": tf.cast(tf.fill(batch, truncated), tf.int32),
        }

    def _encode_features(self, inputs):
        outputs = {}
        lengths = {}
        for modality, name, mask_name, steps in (
            ("text", "text_features", "text_mask", self.sequence_length),
            ("acoustic", "acoustic", "acoustic_mask", self.acoustic_length),
            ("visual", "visual", "visual_mask", self.visual_length),
        ):
            value = _required(inputs, name)
            length_name = f"{modality}_length"
            if length_name in inputs:
                length = tf.cast(tf.reshape(inputs[length_name], [-1]), tf.int32)
            elif isinstance(value, tf.RaggedTensor):
                length = tf.cast(value.row_lengths(), tf.int32)
            else:
                length = tf.fill(tf.shape(value)[:1], tf.shape(value)[1])
            frames = self._features(value, name, modality)
            lengths[modality] = length
            length = tf.minimum(length, tf.shape(frames)[1])
            steps = self._padded_steps(tf.reduce_max(length), steps)
            real = tf.range(tf.shape(frames)[1])[None, :] < length[:, None]
            frames = tf.where(real[..., None], frames, 0.0)
            outputs[name] = _fit_steps(frames, steps)
            outputs[mask_name] = _length_mask(length, steps)
        truncated = ((lengths["text"] > self.sequence_length)
                     | (lengths["acoustic"] > self.acoustic_length)
                     | (lengths["visual"] > self.visual_length))
        return outputs, {"text_length": lengths["text"],
                         "truncated": tf.cast(truncated, tf.int32)}

    def _padded_steps(self, longest, steps):
        """The padded length of a batch whose longest sequence is `longest` (at most `steps`)."""
        if self.padding == "max_length":
            return steps
        rounded = (tf.maximum(longest, 1) + PAD_MULTIPLE - 1) // PAD_MULTIPLE * PAD_MULTIPLE
        return tf.minimum(rounded, steps)

    def _features(self, value, name, modality):
        """Dense float32 [B, F, d'] with the stored dim checked, columns kept, finite."""
        dim = self._check_features(value, name, modality)
        value = tf.cast(_dense(value, 0), tf.float32)
        value = tf.ensure_shape(value, [None, None, dim])
        return self._finite_columns(value, modality)

    def _check_features(self, value, name, modality):
        """Raises unless `value` is [B, F, d] with the stored d; returns d."""
        dim = self.text_dim if modality == "text" else getattr(self, f"{modality}_dim")
        if value.shape.rank != 3:
            raise ValueError(
                f"{name} must be [batch, steps, {dim}] (or one utterance [steps, {dim}]), "
                f"found shape {value.shape}")
        if value.shape[-1] is not None and value.shape[-1] != dim:
            raise ValueError(
                f"{name} has {value.shape[-1]} columns; the preprocessor expects the "
                f"{dim} stored {modality} columns")
        return dim

    def _finite_columns(self, value, modality):
        """float32 features with non-finite values 0 and the kept columns (last axis)."""
        value = tf.where(tf.math.is_finite(value), value, 0.0)
        columns = getattr(self, f"{modality}_columns", None)
        if columns is not None:
            value = tf.gather(value, list(columns), axis=-1)
        return value

    def get_config(self):
        config = super().get_config()
        if self.tokenizer is not None and config["tokenizer"]["config"].get("vocabulary") is None:
            # The vocabulary travels in the config too, so that a JSON config
            # alone rebuilds the layer (KerasHub keeps it only as an asset).
            config["tokenizer"]["config"]["vocabulary"] = list(self.tokenizer.get_vocabulary())
        config.update({
            "layout": self.layout,
            "sequence_length": self.sequence_length,
            "acoustic_dim": self.acoustic_dim,
            "visual_dim": self.visual_dim,
            "acoustic_length": self.acoustic_length,
            "visual_length": self.visual_length,
            "text_dim": self.text_dim,
            "acoustic_columns": _as_list(self.acoustic_columns),
            "visual_columns": _as_list(self.visual_columns),
            "padding": self.padding,
            "task": self.task,
            "class_names": None if self.class_names is None else list(self.class_names),
            "dataset": self.dataset,
        })
        return config


class _EagerFunction:
    """The graph computation for eager calls, traced or op by op; failed checks raise `ValueError`.

    (A plain object, not a tracked attribute: the function stays out of the
    layer's saved state.)
    """

    def __init__(self, function):
        # No AutoGraph: the computation branches on Python values only.
        self.function = tf.function(function, reduce_retracing=True, autograph=False)

    def __call__(self, inputs, traced=True):
        """Runs the traced function, or with `traced=False` the Python function op by op."""
        try:
            return (self.function if traced else self.function.python_function)(inputs)
        except tf.errors.InvalidArgumentError as error:
            # A failed input check: a ValueError with the check's message (on
            # other backends Keras would drop the message of a TF error).
            failed = re.search(r"assertion failed: (.*)", error.message)
            raise ValueError(failed.group(1) if failed else error.message) from error


def _as_utterance(value, checker, data_format):
    if isinstance(value, Utterance):
        return value
    if isinstance(value, dict):
        known = UTTERANCE_FIELDS[data_format]
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise checker.error(
                f"unknown fields {unknown}; a {data_format!r} utterance has {list(known)}")
        return Utterance(**value)
    raise checker.error(f"expected an utterance object, found a {type(value).__name__}")


def _pad_rows(arrays, dim):
    """[n_i, dim] arrays → [B, max n_i (at least 1), dim] float32, zero-padded."""
    batch = np.zeros((len(arrays), max([len(a) for a in arrays] + [1]), dim), np.float32)
    for i, array in enumerate(arrays):
        batch[i, : len(array)] = array
    return batch


def _word_batch(utterances, layout, stored_dims, checker, ragged=False, checked=False):
    fields = ["words", *MODALITIES]
    if layout == "words_with_context":
        fields += ["context_words", "context_sentence_ids", "context_sentences",
                   *(f"context_{m}" for m in MODALITIES)]
    batch = {name: [] for name in fields}
    check_words = (lambda words, field: words) if checked else checker.words
    for index, utterance in enumerate(utterances):
        checker.index = index
        if utterance.words is None:
            raise checker.error("the utterance has no words", "words")
        punchline = check_words(utterance.words, "words")
        context = [check_words(s, "context") for s in utterance.context or ()]
        if context and layout != "words_with_context":
            raise checker.error("this model takes no context", "context")
        flat = [word for sentence in context for word in sentence]
        batch["words"].append(punchline)
        for modality in MODALITIES:
            array = getattr(utterance, modality)
            if not checked:
                array = checker.features(array, modality, modality,
                                         rows=len(flat) + len(punchline))
            batch[modality].append(array[len(flat):])
            batch.get(f"context_{modality}", []).append(array[: len(flat)])
        if layout == "words_with_context":
            batch["context_words"].append(flat)
            batch["context_sentence_ids"].append([i for i, s in enumerate(context) for _ in s])
            batch["context_sentences"].append(len(context))
    return {name: _field_batch(name, values, stored_dims, ragged)
            for name, values in batch.items()}


def _field_batch(name, values, stored_dims, ragged):
    """One raw input of the word layouts: padded numpy ("" and 0 pad), or ragged."""
    if name == "context_sentences":
        return tf.constant(values, tf.int32) if ragged else np.asarray(values, np.int32)
    modality = name.replace("context_", "")
    if modality in MODALITIES:
        return _ragged_rows(values, stored_dims[modality]) if ragged else _pad_rows(
            values, stored_dims[modality])
    strings = name.endswith("words")
    if ragged:
        flat = tf.constant([value for row in values for value in row],
                           tf.string if strings else tf.int32)
        return tf.RaggedTensor.from_row_lengths(flat, [len(row) for row in values])
    batch = np.full((len(values), max([len(row) for row in values] + [1])),
                    "" if strings else 0, dtype=object if strings else np.int32)
    for i, row in enumerate(values):
        batch[i, : len(row)] = row
    return batch


def _ragged_rows(arrays, dim):
    """Ragged float32 [B, None, dim] from [n_i, dim] arrays."""
    flat = np.concatenate([np.reshape(a, (-1, dim)) for a in arrays] + [
        np.zeros((0, dim), np.float32)])
    return tf.RaggedTensor.from_row_lengths(flat, [len(a) for a in arrays])


def _sequence_batch(utterances, layout, stored_dims, checker):
    batch = {}
    names = [("acoustic", "acoustic"), ("visual", "visual")]
    if layout == "features":
        names.insert(0, ("text_features", "text"))
    else:
        ids = []
        for index, utterance in enumerate(utterances):
            checker.index = index
            array = np.asarray(utterance.text_bert)
            if array.ndim != 2 or array.shape[0] != 3 or array.dtype.kind not in "biuf":
                raise checker.error(
                    f"expected token ids, mask and segment ids [3, T], found shape {array.shape}",
                    "text_bert")
            ids.append(array)
        if len({a.shape for a in ids}) > 1:
            raise checker.error("the utterances' text_bert have different lengths", "text_bert")
        ids = np.stack(ids).astype(np.int32)
        batch.update(token_ids=ids[:, 0], padding_mask=ids[:, 1], segment_ids=ids[:, 2])
    for field, modality in names:
        arrays = []
        for index, utterance in enumerate(utterances):
            checker.index = index
            arrays.append(checker.features(getattr(utterance, field), field, modality))
        batch[field] = _pad_rows(arrays, stored_dims[modality])
        length_name = "text_length" if modality == "text" else f"{modality}_length"
        stored = [len(a) for a in arrays]
        if layout == "token_ids":
            stored = [getattr(u, length_name) for u in utterances]
            if any(length is None for length in stored):
                if not all(length is None for length in stored):
                    raise checker.error(
                        f"give {length_name} for every utterance of a batch or for none",
                        length_name)
                continue
        batch[length_name] = np.asarray(stored, np.int32)
    return batch


def _positive(value, name):
    if value is None or int(value) < 1:
        raise ValueError(f"{name} must be a positive int, not {value}")
    return int(value)


def _columns(columns, dim, modality):
    if columns is None:
        return None
    columns = tuple(int(column) for column in columns)
    outside = [column for column in columns if not 0 <= column < dim]
    if outside or not columns:
        raise ValueError(
            f"{modality}_columns must select columns in 0..{dim - 1} (the data has {dim} "
            f"{modality} columns); outside: {outside[:3]}")
    return columns


def _selected(dim, columns):
    return dim if columns is None else len(columns)


def _as_list(columns):
    return None if columns is None else list(columns)


def _without_lengths(outputs):
    return {key: value for key, value in outputs.items() if key not in LENGTH_OUTPUTS}


def _checked_dict(x):
    if not isinstance(x, dict):
        raise ValueError(
            f"GLoMoPreprocessor takes a dict of named inputs, not a {type(x).__name__}")
    return dict(x)


def _as_tf_dict(x):
    """A dict's values as TensorFlow tensors; anything else as it is."""
    if not isinstance(x, dict):
        return x
    return {name: _as_tf(value, name) for name, value in x.items()}


def _as_tf(value, name):
    """A tf.Tensor or tf.RaggedTensor from an array, a (ragged) list or a tensor."""
    if isinstance(value, (tf.Tensor, tf.RaggedTensor)):
        return value
    try:
        return tf.convert_to_tensor(keras.ops.convert_to_numpy(value)
                                    if keras.ops.is_tensor(value) else value)
    except (ValueError, TypeError):
        try:
            return tf.ragged.constant(value, ragged_rank=1)
        except (ValueError, TypeError) as error:
            raise ValueError(f"input {name!r} is neither an array nor a ragged list: {error}")


def _required(inputs, name):
    if name not in inputs:
        raise ValueError(f"the input {name!r} is missing; got {sorted(inputs)}")
    return inputs[name]


def _dense(value, default):
    return value.to_tensor(default) if isinstance(value, tf.RaggedTensor) else value


def _words(value, name):
    """Ragged words [B, None] and their counts (a dense input ends at its last non-empty word)."""
    if value.dtype != tf.string:
        raise ValueError(f"{name} must be strings (tf.string), not {value.dtype.name}")
    if value.shape.rank != 2:
        raise ValueError(f"{name} must be [batch, words] (or one utterance [words]), "
                         f"found shape {value.shape}")
    if isinstance(value, tf.RaggedTensor):
        return value, value.row_lengths()
    position = tf.range(1, tf.shape(value, out_type=tf.int64)[1] + 1)
    ends = tf.where(value != "", position[None, :], 0)
    count = tf.reduce_max(tf.pad(ends, [[0, 0], [1, 0]]), axis=1)
    return tf.RaggedTensor.from_tensor(value, lengths=count), count


def _column(value, like_lengths):
    """A ragged [B, 1] holding `value` (a scalar or one per row)."""
    value = tf.broadcast_to(value, tf.shape(like_lengths))
    return tf.RaggedTensor.from_tensor(value[:, None])


def _keep_window(tensors, start, stop):
    """Keeps the positions in [start, stop) of each row of ragged tensors alike."""
    lengths = tensors[0].row_lengths()
    row_starts = tensors[0].row_starts()
    start = tf.minimum(tf.maximum(tf.cast(start, tf.int64), 0), lengths)
    stop = tf.minimum(tf.maximum(tf.cast(stop, tf.int64), start), lengths)
    kept = tf.ragged.range(row_starts + start, row_starts + stop)
    return tuple(kept.with_flat_values(tf.gather(tensor.flat_values, kept.flat_values))
                 for tensor in tensors)


def _shifted(values, offset, steps):
    """Dense [B, steps]: element `offset[b, t]` of row b of ragged `values`.

    `steps` is an int (T: a static shape) or a scalar tensor (`padding="longest"`).
    """
    shape = ([None, steps] if isinstance(steps, int)
             else tf.stack([tf.cast(values.nrows(), tf.int32), steps]))
    return tf.gather(values.to_tensor(shape=shape), offset, batch_dims=1)


def _fit_steps(frames, steps):
    """Cuts or zero-pads [B, F, d] to [B, steps, d] (`steps` an int or a scalar tensor)."""
    frames = frames[:, :steps]
    padding = steps - tf.shape(frames)[1]
    frames = tf.pad(frames, [[0, 0], [0, padding], [0, 0]])
    static = steps if isinstance(steps, int) else None
    return tf.ensure_shape(frames, [None, static, frames.shape[-1]])


def _length_mask(length, steps):
    length = tf.minimum(tf.cast(tf.reshape(length, [-1]), tf.int32), steps)
    return tf.sequence_mask(length, steps, dtype=tf.int32)


def _checked_width(value, width, name):
    if value.shape.rank != 2 or value.shape[1] not in (None, width):
        raise ValueError(f"{name} must be [batch, {width}], found shape {value.shape}")
    tf.debugging.assert_equal(tf.shape(value)[1], width,
                              message=f"{name} must have {width} steps")
    return tf.ensure_shape(value, [None, width])
