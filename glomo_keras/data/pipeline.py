"""`make_dataset`: a `tf.data` input pipeline over an encoded split.

The split's arrays stay in memory as tensors; the pipeline shuffles and
batches indices and gathers each batch with one `tf.gather` per array.
Length bucketing cuts each batch's time axes to its longest utterance,
rounded up to a multiple of `BUCKET_MULTIPLE` (at most T / 8 shapes per
axis to compile); only padding is cut, which changes nothing for a
`length_aware=True` model (the trainer refuses it for the others).
"""

import numpy as np

from glomo_keras.data.common import CLASSIFICATION

BUCKET_MULTIPLE = 8
GROUP_BATCHES = 16


def sequence_extents(arrays):
    """Each utterance's real extent on every time axis of a split.

    Arrays that share their second dimension share a time axis; the extent
    is one past the last position any of that axis's masks marks as real.

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

    `label` is float32 [B, 1] (regression) or int32 [B] class indices.
    Without `shuffle` the batches keep the split's order (predictions line
    up with `split.ids`). It works on every Keras backend and under a
    `tf.distribute` strategy (auto-sharding by data).

    Args:
        split: an encoded `Split` (MAG/HKT: loaded with a tokenizer).
        batch_size: utterances per batch.
        shuffle: reshuffle the utterances every epoch.
        seed: the shuffle seed.
        drop_remainder: drop the last, smaller batch (a static batch size).
        prefetch: prefetch batches (`tf.data.AUTOTUNE`).
        bucketing: cut every time axis of a batch to its longest utterance
            rounded up to a multiple of `BUCKET_MULTIPLE` (module doc).
        group_batches: with `bucketing` and `shuffle`, sort by length within
            shuffled windows of this many batches, then shuffle the batches
            of a window; 0 or 1 keeps the random batches.
        pad_final_batch: pad the last batch to `batch_size` with the first
            utterance (one batch shape for XLA); only without `shuffle`.
        repeat: pass over the split again and again (each pass reshuffled),
            so that `fit(steps_per_epoch=...)` keeps one iterator and its
            prefetch threads for the whole training.

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
