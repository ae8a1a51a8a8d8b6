"""The optimiser of spec §4: AdamW with a step learning-rate schedule."""

import keras


def step_schedule(options, steps_per_epoch):
    """Learning rate ×`lr_decay_factor` from each epoch of `lr_decay_epochs` (piecewise constant).

    Args:
        options: a `TrainingOptions`.
        steps_per_epoch: optimiser steps in one epoch.

    Example:

    ```python
    schedule = step_schedule(TrainingOptions.for_dataset("mosei"), 255)
    float(schedule(80 * 255))  # 1e-6
    ```
    """
    boundaries = [int(epoch * steps_per_epoch) for epoch in options.lr_decay_epochs]
    values = [
        options.learning_rate * options.lr_decay_factor**index
        for index in range(len(boundaries) + 1)
    ]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


def make_optimizer(options, steps_per_epoch=None):
    """AdamW (ε, weight decay from the options; none on biases and LayerNorm).

    Args:
        options: a `TrainingOptions`.
        steps_per_epoch: optimiser steps in one epoch, for the step
            schedule; None for a constant learning rate.

    Example:

    ```python
    model.compile(optimizer=make_optimizer(options, steps_per_epoch=10))
    ```
    """
    learning_rate = options.learning_rate
    if steps_per_epoch is not None:
        learning_rate = step_schedule(options, steps_per_epoch)
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate,
        epsilon=options.adam_epsilon,
        weight_decay=options.weight_decay,
    )
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer
