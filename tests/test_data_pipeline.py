"""`make_dataset`: batch structure, order, shuffling, and `model.fit`."""

import keras
import numpy as np
import pytest
from data_fixtures import (
    hkt_data,
    mag_data,
    mmsa_data,
    tiny_tokenizer,
    write_cherma,
    write_pickle,
)

from glomo_keras.data import load, make_dataset, sample

INT_KEYS = ("token_ids", "padding_mask", "segment_ids", "acoustic_mask", "visual_mask")


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def sample_dataset(tmp_path_factory, tokenizer):
    path = sample.write(tmp_path_factory.mktemp("sample") / "sample.pkl")
    return load(path, tokenizer=tokenizer, use_cache=False)


def _numpy(structure):
    return keras.tree.map_structure(np.asarray, structure)


def test_batch_structure_and_dtypes(sample_dataset):
    inputs, labels = _numpy(next(iter(make_dataset(sample_dataset.train, 32))))
    assert set(inputs) == set(INT_KEYS) | {"acoustic", "visual"}
    for name in INT_KEYS:
        assert inputs[name].dtype == np.int32 and inputs[name].shape == (32, 80), name
    assert inputs["acoustic"].shape == (32, 80, 74) and inputs["acoustic"].dtype == np.float32
    assert inputs["visual"].shape == (32, 80, 35) and inputs["visual"].dtype == np.float32
    assert labels.shape == (32, 1) and labels.dtype == np.float32


def test_unshuffled_batches_keep_the_order_and_values(sample_dataset):
    split = sample_dataset.valid
    batches = [_numpy(batch) for batch in make_dataset(split, 32)]
    assert [len(labels) for _, labels in batches] == [32, 32, 32, 4]
    np.testing.assert_array_equal(np.concatenate([l for _, l in batches])[:, 0], split.labels)
    expected = split.inputs
    for name, array in expected.items():
        got = np.concatenate([inputs[name] for inputs, _ in batches])
        np.testing.assert_array_equal(got, array, err_msg=name)


def test_shuffling_is_seeded_and_changes_every_epoch(sample_dataset):
    def order(dataset):
        return np.concatenate([np.asarray(labels)[:, 0] for _, labels in dataset])

    first = make_dataset(sample_dataset.train, 64, shuffle=True, seed=3)
    second = make_dataset(sample_dataset.train, 64, shuffle=True, seed=3)
    epoch_1, epoch_2 = order(first), order(first)
    np.testing.assert_array_equal(epoch_1, order(second))
    assert not np.array_equal(epoch_1, epoch_2)
    np.testing.assert_array_equal(np.sort(epoch_1), np.sort(sample_dataset.train.labels))


def test_drop_remainder_gives_static_shapes(sample_dataset):
    dataset = make_dataset(sample_dataset.test, 64, drop_remainder=True)
    inputs_spec, label_spec = dataset.element_spec
    assert tuple(inputs_spec["acoustic"].shape) == (64, 80, 74)
    assert tuple(label_spec.shape) == (64, 1)
    assert sum(1 for _ in dataset) == 3


def test_classification_labels_are_int32_indices(tmp_path, tokenizer):
    dataset = load(write_pickle(tmp_path / "mustard.pkl", hkt_data()), tokenizer=tokenizer,
                   use_cache=False)
    inputs, labels = _numpy(next(iter(make_dataset(dataset.train, 2))))
    assert labels.dtype == np.int32 and labels.shape == (2,)
    assert inputs["acoustic"].shape == (2, 70, 60)


def test_mmsa_and_cherma_batches(tmp_path):
    mmsa = load(write_pickle(tmp_path / "unaligned_50.pkl",
                             mmsa_data(audio=(30, 5), vision=(40, 20), lengths=True)),
                use_cache=False)
    inputs, labels = _numpy(next(iter(make_dataset(mmsa.train, 3))))
    assert inputs["token_ids"].shape == (3, 50) and inputs["acoustic"].shape == (3, 30, 5)
    assert inputs["visual_mask"].shape == (3, 40) and inputs["visual_mask"].dtype == np.int32
    assert labels.shape == (3, 1)
    cherma = load(write_cherma(tmp_path / "cherma"), use_cache=False)
    inputs, labels = _numpy(next(iter(make_dataset(cherma.train, 4))))
    assert set(inputs) == {"text_features", "text_mask", "acoustic", "acoustic_mask",
                           "visual", "visual_mask"}
    assert inputs["text_features"].shape == (4, 50, 1024)
    assert labels.tolist() == [0, 1, 2, 3] and labels.dtype == np.int32


def test_an_untokenised_split_is_refused(tmp_path):
    dataset = load(write_pickle(tmp_path / "mosi.pkl", mag_data()), use_cache=False)
    with pytest.raises(ValueError, match="load\\(path, tokenizer=...\\)"):
        make_dataset(dataset.train, 8)


def _tiny_model(dims, steps):
    inputs = {
        "token_ids": keras.Input((steps,), dtype="int32", name="token_ids"),
        "padding_mask": keras.Input((steps,), dtype="int32", name="padding_mask"),
        "segment_ids": keras.Input((steps,), dtype="int32", name="segment_ids"),
        "acoustic": keras.Input((steps, dims["acoustic"]), name="acoustic"),
        "acoustic_mask": keras.Input((steps,), dtype="int32", name="acoustic_mask"),
        "visual": keras.Input((steps, dims["visual"]), name="visual"),
        "visual_mask": keras.Input((steps,), dtype="int32", name="visual_mask"),
    }
    text = keras.layers.GlobalAveragePooling1D()(
        keras.layers.Embedding(64, 4)(inputs["token_ids"]))
    acoustic = keras.layers.GlobalMaxPooling1D()(keras.layers.Dense(4)(inputs["acoustic"]))
    visual = keras.layers.GlobalMaxPooling1D()(keras.layers.Dense(4)(inputs["visual"]))
    output = keras.layers.Dense(1)(keras.layers.Concatenate()([text, acoustic, visual]))
    model = keras.Model(inputs, output)
    model.compile(optimizer="adam", loss="mae")
    return model


def test_model_fit_reads_the_dataset(sample_dataset):
    model = _tiny_model(sample_dataset.dims, sample_dataset.preprocessor.sequence_length)
    history = model.fit(
        make_dataset(sample_dataset.train, 100, shuffle=True, seed=1),
        validation_data=make_dataset(sample_dataset.valid, 100),
        epochs=2,
        verbose=0,
    )
    assert np.isfinite(history.history["val_loss"]).all()
    predictions = model.predict(make_dataset(sample_dataset.test, 64), verbose=0)
    assert predictions.shape == (len(sample_dataset.test.ids), 1)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute")
def test_model_fit_under_a_distribution_strategy(sample_dataset):
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        model = _tiny_model(sample_dataset.dims, sample_dataset.preprocessor.sequence_length)
    history = model.fit(make_dataset(sample_dataset.train, 100, shuffle=True, seed=1),
                        epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
