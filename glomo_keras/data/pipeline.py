"""`make_dataset`: a `tf.data` input pipeline over a tokenised split.

The split's model inputs (encoded once by `GLoMoPreprocessor` when the
file is loaded, and cached) stay in memory as tensors; the pipeline shuffles
and batches indices and gathers each batch with one `tf.gather` per array,
which is much faster than slicing and re-batching single examples.

Length bucketing (`bucketing=True`) cuts each batch's time axes to its
longest utterance rounded up to a multiple of `BUCKET_MULTIPLE` (so a
compiled step sees at most T / 8 shapes per axis) and, when shuffling,
sorts the utterances by length within shuffled windows of `group_batches`
batches, so that a batch holds similar lengths. Only the padding is cut,
which changes nothing for a `length_aware=True` model; a model that attends
and pools over padding (`length_aware=False`, the released code) gives
different outputs for a different T, so the trainer refuses bucketing there.
"""

import numpy as np

from glomo_keras.data.common import CLASSIFICATION

BUCKET_MULTIPLE = 8
GROUP_BATCHES = 16


def sequence_extents(arrays):
    """Each utterance's real extent on every time axis of a split.

    Arrays of a split that share their second dimension share a time axis
    (word-aligned data: tokens, masks and feature rows; MMSA/CHERMA: each
    modality may have its own). The extent of an utterance on an axis is
    one past the last position any of that axis's masks marks as real.

    Args:
        arrays: the split's model input dict.

    Returns:
        `{steps: int32 [N] extents}`, keyed by the axis length.

    Example:

    ```python
    sequence_extents(split.arrays)  # {80: array([17, 31, ...], dtype=int32)}
    ```
    """
    extents = {}
    for name, array in arrays.items():
        if not name.endswith("mask"):
            continue
        steps = array.shape[1]
        positions = np.arange(1, steps + 1, dtype=np.int32)[None, :]
        extent = np.max(np.where(array != 0, positions, 0), axis=1).astype(np.int32)
        extents[steps] = np.maximum(extents.get(steps, 0), extent)
    return extents


def make_dataset(
    split, batch_size, shuffle=False, seed=None, drop_remainder=False, prefetch=True,
    bucketing=False, group_batches=GROUP_BATCHES, pad_final_batch=False, repeat=False,
):
    """A `tf.data.Dataset` of `(inputs, label)` batches for `model.fit`.

    `inputs` is the split's input dict (int32 ids and masks, float32
    features, fixed T unless `bucketing`); `label` is float32 [B, 1] for
    regression and int32 [B] class indices for classification. Without
    `shuffle` the batches keep the split's order, so predictions line up
    with `split.ids`. The dataset works with `model.fit` on every Keras
    backend (Keras reads tf.data on JAX and PyTorch too) and under a
    `tf.distribute` strategy (auto-sharding by data).

    Args:
        split: a tokenised `Split` (from `load` with a tokenizer for MAG/HKT).
        batch_size: utterances per batch.
        shuffle: reshuffle the utterances every epoch.
        seed: the shuffle seed (an int makes the epoch orders reproducible).
        drop_remainder: drop the last, smaller batch, so that the batch
            axis has a static size too (TPU; XLA training).
        prefetch: prefetch batches (`tf.data.AUTOTUNE`).
        bucketing: cut every time axis of a batch to its longest utterance
            rounded up to a multiple of `BUCKET_MULTIPLE` (exact only for a
            `length_aware=True` model, see the module doc).
        group_batches: with `bucketing` and `shuffle`, sort by length within
            shuffled windows of this many batches, then shuffle the batches
            of a window; 0 or 1 keeps the random batches.
        pad_final_batch: pad the last, smaller batch to `batch_size` by
            repeating the split's first utterance (one batch shape for XLA);
            drop the outputs past `len(split)`. Only without `shuffle`.
        repeat: pass over the split again and again (each pass reshuffled):
            `model.fit(dataset, steps_per_epoch=...)` then keeps one
            iterator, with its prefetch threads, for the whole training
            (TensorFlow waits seconds for the threads of a finished
            iterator at every epoch start otherwise).

    Returns:
        `tf.data.Dataset`.

    Raises:
        ValueError: the split has no model inputs (not tokenised), or
            `pad_final_batch` with `shuffle`.

    Example:

    ```python
    dataset = load("mosi.pkl", tokenizer=tokenizer)
    train = make_dataset(dataset.train, 240, shuffle=True, seed=5576)
    model.fit(train, validation_data=make_dataset(dataset.valid, 240), epochs=70)
    ```
    """
    import tensorflow as tf

    if split.arrays is None:
        raise ValueError(
            f"split '{split.name}' has no model inputs: load MAG and HKT files with "
            "load(path, tokenizer=...) to tokenise them"
        )
    if pad_final_batch and shuffle:
        raise ValueError("make_dataset: pad_final_batch is for unshuffled evaluation data")
    labels = np.asarray(split.labels)
    if split.task == CLASSIFICATION:
        labels = labels.astype(np.int32).reshape(-1)
    else:
        labels = labels.astype(np.float32).reshape(-1, 1)
    tensors = {name: tf.constant(array) for name, array in split.arrays.items()}
    labels = tf.constant(labels)
    extents = sequence_extents(split.arrays) if bucketing else {}
    extent_tensors = {steps: tf.constant(value) for steps, value in extents.items()}

    def cut_lengths(batch):
        """{axis length: this batch's length on it} (bucketing only)."""
        cuts = {}
        for steps, extent in extent_tensors.items():
            longest = tf.maximum(tf.reduce_max(tf.gather(extent, batch)), 1)
            rounded = -(-longest // BUCKET_MULTIPLE) * BUCKET_MULTIPLE
            cuts[steps] = tf.minimum(rounded, steps)
        return cuts

    def take(name, batch, cuts):
        value = tf.gather(tensors[name], batch)
        steps = split.arrays[name].shape[1]
        return value[:, : cuts[steps]] if steps in cuts else value

    def gather(batch):
        cuts = cut_lengths(batch)
        return {name: take(name, batch, cuts) for name in tensors}, tf.gather(labels, batch)

    count = len(labels)
    indices = tf.data.Dataset.range(count)
    if pad_final_batch and count % batch_size:
        padding = tf.data.Dataset.range(1).repeat(batch_size - count % batch_size)
        indices = indices.concatenate(padding)
    if shuffle:
        indices = indices.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    group = bucketing and shuffle and group_batches > 1
    if group:
        sort_keys = tf.constant(sum(extents.values()))

        def sort_by_length(window):
            return tf.gather(window, tf.argsort(tf.gather(sort_keys, window), stable=True))

        indices = indices.batch(batch_size * group_batches).map(sort_by_length).unbatch()
    batches = indices.batch(batch_size, drop_remainder=drop_remainder)
    if group:
        batches = batches.shuffle(group_batches, seed=seed, reshuffle_each_iteration=True)
        # unbatch() loses the count of batches, which Keras needs for its
        # progress bar and epoch ends.
        total = count // batch_size if drop_remainder else -(-count // batch_size)
        batches = batches.apply(tf.data.experimental.assert_cardinality(total))
    if repeat:
        batches = batches.repeat()
    batches = batches.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    batches = batches.with_options(options)
    if prefetch:
        batches = batches.prefetch(tf.data.AUTOTUNE)
    return batches
