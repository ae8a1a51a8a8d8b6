"""`make_dataset`: a `tf.data` input pipeline over a tokenised split.

The split's arrays stay in memory as tensors; the pipeline shuffles and
batches indices and gathers each batch with one `tf.gather` per array, which
is much faster than slicing and re-batching single examples. Word-aligned
splits keep their compact form (see `glomo_keras.data.encoding`): each
batch's acoustic/visual rows are gathered from the word tables.
"""

import numpy as np

from glomo_keras.data.common import CLASSIFICATION
from glomo_keras.data.encoding import TABLE_KEYS


def make_dataset(
    split, batch_size, shuffle=False, seed=None, drop_remainder=False, prefetch=True
):
    """A `tf.data.Dataset` of `(inputs, label)` batches for `model.fit`.

    `inputs` is the split's input dict (int32 ids and masks, float32
    features, fixed T); `label` is float32 [B, 1] for regression and int32
    [B] class indices for classification. With `shuffle=False` the batches
    keep the split's order, so predictions line up with `split.ids`. The
    dataset works with `model.fit` on every Keras backend (Keras reads
    tf.data on JAX and PyTorch too) and under a `tf.distribute` strategy
    (auto-sharding by data).

    Args:
        split: a tokenised `Split` (from `load` with a tokenizer for MAG/HKT).
        batch_size: utterances per batch.
        shuffle: reshuffle the utterances every epoch.
        seed: the shuffle seed (an int makes the epoch orders reproducible).
        drop_remainder: drop the last, smaller batch, so that the batch
            axis has a static size too (needed on TPU).
        prefetch: prefetch batches (`tf.data.AUTOTUNE`).

    Returns:
        `tf.data.Dataset`.

    Raises:
        ValueError: the split has no model inputs (not tokenised).

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
    labels = np.asarray(split.labels)
    if split.task == CLASSIFICATION:
        labels = labels.astype(np.int32).reshape(-1)
    else:
        labels = labels.astype(np.float32).reshape(-1, 1)
    tensors = {name: tf.constant(array) for name, array in split.arrays.items()}
    labels = tf.constant(labels)

    def gather(batch):
        inputs = {
            name: tf.gather(tensor, batch)
            for name, tensor in tensors.items()
            if name not in TABLE_KEYS
        }
        if "feature_rows" in tensors:
            rows = tf.gather(tensors["feature_rows"], batch)
            for modality in ("acoustic", "visual"):
                inputs[modality] = tf.gather(tensors[f"{modality}_table"], rows)
        return inputs, tf.gather(labels, batch)

    indices = tf.data.Dataset.range(len(labels))
    if shuffle:
        indices = indices.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    batches = indices.batch(batch_size, drop_remainder=drop_remainder).map(
        gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    batches = batches.with_options(options)
    if prefetch:
        batches = batches.prefetch(tf.data.AUTOTUNE)
    return batches
