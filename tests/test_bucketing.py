"""Length bucketing: per-batch padding to the longest utterance, exact for length-aware models."""

import keras
import keras_hub
import numpy as np
import pytest
from data_fixtures import tiny_tokenizer
from tiny_model import tiny_config

from glomo_keras import GLoMo
from glomo_keras.data import load, make_dataset, sample
from glomo_keras.data.pipeline import BUCKET_MULTIPLE, sequence_extents
from glomo_keras.training import TrainingOptions

STEPS = 40  # the sample's utterances are 5-39 words: most are shorter than T


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, tokenizer):
    path = sample.write(tmp_path_factory.mktemp("sample") / "sample.pkl")
    return load(path, tokenizer=tokenizer, max_length=STEPS, use_cache=False)


def _numpy(structure):
    return keras.tree.map_structure(np.asarray, structure)


def _model(tokenizer, dataset, length_aware):
    config = tiny_config(
        "mosei", max_sequence_length=STEPS, acoustic_dim=dataset.dims["acoustic"],
        visual_dim=dataset.dims["visual"], length_aware=length_aware,
        noisy_gating=False,
    )
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=tokenizer.vocabulary_size(), num_layers=2, num_heads=2,
        hidden_dim=8, intermediate_dim=16, max_sequence_length=STEPS,
    )
    model = GLoMo(config, backbone)
    model.compile()
    return model


def test_batches_are_cut_to_their_longest_utterance(dataset):
    split = dataset.valid
    extents = sequence_extents(split.arrays)[STEPS]
    cuts = []
    for index, (inputs, labels) in enumerate(make_dataset(split, 16, bucketing=True)):
        inputs = _numpy(inputs)
        longest = extents[index * 16:(index + 1) * 16].max()
        cut = min(-(-longest // BUCKET_MULTIPLE) * BUCKET_MULTIPLE, STEPS)
        for name, value in inputs.items():
            assert value.shape[1] == cut, name
            full = split.inputs[name][index * 16:(index + 1) * 16]
            np.testing.assert_array_equal(value, full[:, :cut], err_msg=name)
            assert not full[:, cut:].any(), f"{name}: real values cut off"
        cuts.append(cut)
    assert min(cuts) < STEPS, "no batch was shorter than T: the test shows nothing"


def test_grouping_keeps_every_utterance_once_and_shortens_batches(dataset):
    split = dataset.train

    def epoch(group_batches):
        data = make_dataset(split, 16, shuffle=True, seed=2, bucketing=True,
                            group_batches=group_batches)
        batches = [_numpy(batch) for batch in data]
        assert int(data.cardinality()) == len(batches)  # Keras needs the count
        labels = np.concatenate([labels[:, 0] for _, labels in batches])
        lengths = [inputs["token_ids"].shape[1] for inputs, _ in batches]
        return labels, float(np.mean(lengths))

    grouped, grouped_length = epoch(16)
    random, random_length = epoch(0)
    np.testing.assert_array_equal(np.sort(grouped), np.sort(split.labels.reshape(-1)))
    np.testing.assert_array_equal(np.sort(random), np.sort(split.labels.reshape(-1)))
    assert grouped_length < random_length


def test_pad_final_batch_repeats_the_first_utterance(dataset):
    batches = [_numpy(b) for b in make_dataset(dataset.valid, 32, pad_final_batch=True)]
    assert [len(labels) for _, labels in batches] == [32, 32, 32, 32]
    labels = np.concatenate([labels[:, 0] for _, labels in batches])
    np.testing.assert_array_equal(labels[:100], dataset.valid.labels.reshape(-1))
    np.testing.assert_array_equal(labels[100:], labels[0])
    with pytest.raises(ValueError, match="pad_final_batch"):
        make_dataset(dataset.valid, 32, shuffle=True, pad_final_batch=True)


def test_bucketing_is_exact_for_length_aware_models(tokenizer, dataset):
    model = _model(tokenizer, dataset, length_aware=True)
    split = dataset.valid
    fixed = make_dataset(split, 16)
    bucketed = make_dataset(split, 16, bucketing=True)
    expected = model.predict(fixed, verbose=0)
    got = model.predict(bucketed, verbose=0)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], atol=1e-5, err_msg=name)
    loss_fixed = model.evaluate(fixed, verbose=0, return_dict=True)["loss"]
    loss_bucketed = model.evaluate(bucketed, verbose=0, return_dict=True)["loss"]
    assert loss_bucketed == pytest.approx(loss_fixed, abs=1e-5)


def test_without_length_awareness_outputs_depend_on_t(tokenizer, dataset):
    """Why bucketing needs length_aware=True: the released model sees padding."""
    model = _model(tokenizer, dataset, length_aware=False)
    split = dataset.valid
    expected = model.predict(make_dataset(split, 16), verbose=0)["prediction"]
    got = model.predict(make_dataset(split, 16, bucketing=True), verbose=0)["prediction"]
    assert np.abs(got - expected).max() > 1e-4
    with pytest.raises(ValueError, match="TrainingOptions.bucketing=True is invalid.*length_aware"):
        TrainingOptions.for_dataset("mosei", bucketing=True).check_config(model.config)


def test_a_split_sorted_by_length_keeps_each_utterance_whole(dataset):
    split = dataset.valid
    ordered = split.by_length()
    extents = sequence_extents(ordered.arrays)[STEPS]
    assert np.all(np.diff(extents) >= 0)
    assert np.any(np.diff(sequence_extents(split.arrays)[STEPS]) < 0)
    position = {identifier: index for index, identifier in enumerate(split.ids)}
    order = np.array([position[identifier] for identifier in ordered.ids])
    assert sorted(order) == list(range(len(split)))
    np.testing.assert_array_equal(ordered.labels, np.asarray(split.labels)[order])
    for name, value in ordered.inputs.items():
        np.testing.assert_array_equal(value, split.inputs[name][order], err_msg=name)
    # Sorted batches hold similar lengths: far less padding than the file's order.
    padded = [
        sum(int(inputs["padding_mask"].shape[1]) for inputs, _ in make_dataset(
            each, 16, bucketing=True))
        for each in (split, ordered)
    ]
    assert padded[1] < padded[0]
