"""Helpers every GLoMo layer shares: fresh initializers, built sublayers, `get_config`."""

import inspect

import keras


def clone_initializer(initializer):
    """Returns a new instance of `initializer` with the same configuration.

    Sublayers given one random initializer instance draw the same numbers;
    give each its own clone, as KerasHub does (a seeded one keeps its seed).

    Args:
        initializer: a `keras.initializers.Initializer` instance.

    Returns:
        A new initializer of the same class and configuration.

    Example:

    ```python
    base = keras.initializers.get("glorot_uniform")
    first = keras.layers.Dense(8, kernel_initializer=clone_initializer(base))
    second = keras.layers.Dense(8, kernel_initializer=clone_initializer(base))
    ```
    """
    if not isinstance(initializer, keras.initializers.Initializer):
        return initializer
    return initializer.__class__.from_config(initializer.get_config())


def built(layer, input_shape):
    """Builds `layer` for `input_shape` and returns it.

    Args:
        layer: a sublayer created in its parent's `build`.
        input_shape: the shape it will be called on.

    Example:

    ```python
    self.output_dense = built(keras.layers.Dense(8, name="output_dense"), (None, 4))
    ```
    """
    layer.build(input_shape)
    return layer


def arguments_config(layer):
    """The constructor arguments of `layer`, read back from its attributes.

    Every named argument of the layer class's `__init__` (not `**kwargs`,
    which the base `get_config` covers) is stored on the layer under its own
    name; initializers are serialised.

    Args:
        layer: a layer that stores each constructor argument as an attribute.

    Example:

    ```python
    def get_config(self):
        return {**super().get_config(), **arguments_config(self)}
    ```
    """
    config = {}
    for name, parameter in inspect.signature(type(layer).__init__).parameters.items():
        if name == "self" or parameter.kind is parameter.VAR_KEYWORD:
            continue
        value = getattr(layer, name)
        if isinstance(value, keras.initializers.Initializer):
            value = keras.initializers.serialize(value)
        config[name] = value
    return config
