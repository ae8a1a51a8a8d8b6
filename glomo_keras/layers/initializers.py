"""`clone_initializer`: one fresh initializer per sublayer."""

import keras


def clone_initializer(initializer):
    """Returns a new instance of `initializer` with the same configuration.

    A Keras random initializer instance draws from a fixed seed, so two
    sublayers given the same instance start from the same random numbers
    (two kernels of one shape become equal). Give each sublayer its own
    clone, as KerasHub does. An unseeded initializer's clone draws new
    numbers; an explicitly seeded one keeps its seed.

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
