"""The checks every glomo_keras layer must pass, in one helper.

`run_layer_test` wraps a layer in a small functional model and checks, in
this order: the config round trip (and the `glomo_keras>` registration), a
symbolic call, an eager call that agrees with the symbolic one, one
`model.fit` step that changes the trainable weights, and a `.keras`
save/load that reproduces the outputs exactly.

Example:

```python
run_layer_test(
    AdaptiveMaxPooling1D,
    init_kwargs={"output_size": 2},
    input_data=np.random.rand(2, 6, 4).astype("float32"),
    expected_output_shape=(2, 2, 4),
    tmp_path=tmp_path,
)
```
"""

import keras
import numpy as np
from keras import ops, tree

# Training steps of the tiny test models run eagerly on every backend: tracing
# or compiling a graph costs more than a few tiny eager steps (the JAX pass of
# scripts/test.sh took 319 s eagerly, 398 s with every step compiled). The
# compiled steps of each backend are tested by test_model.py's
# test_compiled_steps_train_and_keras_save_and_load_keep_the_model and by the
# console runs.
RUN_EAGERLY = True


def _symbolic_like(name, array):
    array = np.asarray(array)
    return keras.Input(shape=array.shape[1:], dtype=str(array.dtype), name=name)


def _named_arrays(input_data):
    if isinstance(input_data, (list, tuple)):
        return {f"inputs_{i}": np.asarray(a) for i, a in enumerate(input_data)}
    return {"inputs": np.asarray(input_data)}


def _float_outputs(outputs):
    return [
        output
        for output in tree.flatten(outputs)
        if "float" in str(keras.backend.standardize_dtype(output.dtype))
    ]


def _scalar_per_sample(outputs):
    """Reduces every float output to one [B, 1] score, for a fit step."""
    scores = []
    for output in _float_outputs(outputs):
        axes = tuple(range(1, len(output.shape)))
        score = ops.mean(ops.cast(output, "float32"), axis=axes)
        scores.append(ops.expand_dims(score, -1))
    return scores[0] if len(scores) == 1 else ops.sum(ops.stack(scores), 0)


def _assert_shapes(outputs, expected_output_shape):
    if expected_output_shape is None:
        return
    shapes = tree.map_structure(lambda x: tuple(x.shape), outputs)
    assert shapes == expected_output_shape, (shapes, expected_output_shape)


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    tmp_path,
    call_kwargs=None,
    call_options=None,
    expected_output_shape=None,
    expect_trainable_weights=True,
):
    """Runs the standard layer checks; raises AssertionError on a failure.

    Args:
        layer_cls: the layer class under test.
        init_kwargs: dict, constructor arguments.
        input_data: numpy array, or a list of them, the first positional
            argument of `call`.
        tmp_path: a directory for the `.keras` file.
        call_kwargs: dict of numpy arrays passed as keyword tensors (masks).
        call_options: dict of plain Python keyword arguments for `call`.
        expected_output_shape: the output shape, or a structure of shapes
            matching the output structure, for the batch of `input_data`.
        expect_trainable_weights: whether the layer owns trainable weights
            that one fit step must change.
    """
    call_kwargs = call_kwargs or {}
    call_options = call_options or {}

    # 1. Config round trip and registration.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for key, value in init_kwargs.items():
        assert key in config, f"get_config() lacks constructor argument {key!r}"
    assert layer_cls.from_config(config).get_config() == config
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert type(revived) is layer_cls
    registered = keras.saving.get_registered_name(layer_cls)
    assert registered.startswith("glomo_keras>"), registered

    # 2. Symbolic call inside a functional model. A list `input_data` is
    # fed as model inputs `inputs_0`, `inputs_1`, ... and passed as a list.
    positional = _named_arrays(input_data)
    data = {**positional, **call_kwargs}
    inputs = {name: _symbolic_like(name, value) for name, value in data.items()}
    layer = layer_cls(**init_kwargs)

    def call_layer(tensors):
        first = [tensors[name] for name in positional]
        if not isinstance(input_data, (list, tuple)):
            first = first[0]
        kwargs = {name: tensors[name] for name in call_kwargs}
        return layer(first, **kwargs, **call_options)

    outputs = call_layer(inputs)
    model = keras.Model(inputs, outputs)

    # 3. Eager call agrees with the model.
    eager = call_layer({k: ops.convert_to_tensor(v) for k, v in data.items()})
    _assert_shapes(eager, expected_output_shape)
    predicted = model.predict(data, verbose=0)
    tree.map_structure(
        lambda a, b: np.testing.assert_allclose(
            ops.convert_to_numpy(a), b, rtol=1e-5, atol=1e-5
        ),
        tree.flatten(eager),
        tree.flatten(predicted),
    )

    # 4. One fit step changes the trainable weights.
    score = _scalar_per_sample(outputs)
    trainer = keras.Model(inputs, score)
    trainer.compile(
        optimizer=keras.optimizers.SGD(0.5), loss="mse", run_eagerly=RUN_EAGERLY
    )
    before = [ops.convert_to_numpy(w) for w in layer.trainable_weights]
    batch = next(iter(data.values())).shape[0]
    targets = np.full((batch, 1), 3.0, dtype="float32")
    history = trainer.fit(data, targets, epochs=1, batch_size=batch, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    if expect_trainable_weights:
        after = [ops.convert_to_numpy(w) for w in layer.trainable_weights]
        assert before, "the layer has no trainable weights"
        changed = [not np.array_equal(b, a) for b, a in zip(before, after)]
        assert any(changed), "one fit step changed no trainable weight"

    # 5. `.keras` save and load reproduce the outputs.
    path = str(tmp_path / f"{layer_cls.__name__}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    reloaded = loaded.predict(data, verbose=0)
    again = model.predict(data, verbose=0)
    tree.map_structure(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6),
        tree.flatten(again),
        tree.flatten(reloaded),
    )
    return model
