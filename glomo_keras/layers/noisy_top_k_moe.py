"""`NoisyTopKMoE`: the modality-specific noisy top-k mixture of experts (spec §2)."""

import math

import keras
import numpy as np
from keras import ops

from glomo_keras.layers.initializers import arguments_config
from glomo_keras.layers.initializers import built
from glomo_keras.layers.initializers import clone_initializer


@keras.saving.register_keras_serializable(package="glomo_keras")
class NoisyTopKMoE(keras.layers.Layer):
    """Mixture of `num_experts` MLP experts with noisy top-k gating.

    For an input `x` [B, D], the clean gate logits are `c = x W_g`. In
    training with `noisy_gating`, the logits are `z = c + eps * sigma` with
    `sigma = softplus(x W_noise) + noise_epsilon` and `eps ~ N(0, 1)`;
    otherwise `z = c`. The top `top_k` logits of each sample are
    softmax-normalised into the gates `G` [B, num_experts], zero elsewhere.
    Expert `i` is `Dense(hidden_dim, relu) -> Dense(output_dim)`; all experts
    are computed densely and combined as `sum_i G_i E_i(x)` (`combine="sum"`,
    the paper) or `log(sum_i G_i exp(E_i(x)))` over the selected experts
    (`combine="log_space"`, the released code; a stable masked log-sum-exp,
    finite whatever the unselected experts output).

    In training the layer adds, with `add_loss`, the auxiliary loss
    `loss_weight * (cv2(importance) + cv2(load))`, where `importance` is the
    batch sum of `G`, `cv2(v) = var(v) / (mean(v)**2 + 1e-10)` with the
    unbiased variance, and `load` is the smooth estimate of Shazeer et al.
    (2017) of the number of samples routed to each expert (noisy gating,
    `top_k < num_experts`) or that number itself (otherwise).

    The gate kernels `gate_kernel` and `noise_kernel` [D, num_experts] are
    zero-initialised. The gating math runs in the variable dtype (float32
    under a mixed precision policy); the output is in the compute dtype.

    Args:
        num_experts: int, the number of experts `s`.
        top_k: int, the number of experts kept per sample, in
            `[1, num_experts]`.
        hidden_dim: int, the hidden size of each expert.
        output_dim: int, the output size of each expert and of the layer.
        loss_weight: float, the weight of the auxiliary loss.
        noisy_gating: bool, whether to add gate noise in training.
        noise_epsilon: float, the floor added to the noise scale.
        combine: `"sum"` or `"log_space"`, how expert outputs are combined.
        load_cdf_mean: float, the mean of the normal CDF in the smooth load
            estimate: `0.0` as in the paper, `0.1` as in the released code.
        seed: int or None, the seed of the gate noise.
        kernel_initializer: the kernel initializer of the expert layers.
        **kwargs: base layer arguments (`name`, `dtype`).

    Call arguments:
        inputs: a float tensor of shape [B, D].
        training: bool, whether to add gate noise and the auxiliary loss.
        return_gates: bool, whether to also return the gates [B, s].

    Returns:
        The output [B, output_dim], or `(output, gates)` when `return_gates`.

    Example:

    ```python
    inputs = keras.Input(shape=(144,))
    outputs, gates = NoisyTopKMoE(
        num_experts=3, top_k=2, hidden_dim=48, output_dim=48, seed=5576
    )(inputs, return_gates=True)
    model = keras.Model(inputs, [outputs, gates])
    ```

    References:
     - [Shazeer et al., 2017](https://arxiv.org/abs/1701.06538)
    """

    def __init__(
        self,
        num_experts,
        top_k,
        hidden_dim,
        output_dim,
        loss_weight=1e-2,
        noisy_gating=True,
        noise_epsilon=1e-2,
        combine="sum",
        load_cdf_mean=0.0,
        seed=None,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        sizes = dict(num_experts=num_experts, top_k=top_k, hidden_dim=hidden_dim,
                     output_dim=output_dim)
        for arg_name, value in sizes.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{arg_name}` must be a positive integer. Received: {arg_name}={value}"
                )
        if top_k > num_experts:
            raise ValueError(
                "`top_k` must be between 1 and `num_experts`. "
                f"Received: top_k={top_k}, num_experts={num_experts}"
            )
        for arg_name, value in (("loss_weight", loss_weight), ("noise_epsilon", noise_epsilon)):
            if value < 0:
                raise ValueError(
                    f"`{arg_name}` must be non-negative. Received: {arg_name}={value}"
                )
        if combine not in ("sum", "log_space"):
            raise ValueError(
                '`combine` must be "sum" or "log_space". '
                f"Received: combine={combine!r}"
            )
        self.num_experts = num_experts
        self.top_k = top_k
        self.hidden_dim = hidden_dim
        self.output_dim = output_dim
        self.loss_weight = loss_weight
        self.noisy_gating = noisy_gating
        self.noise_epsilon = noise_epsilon
        self.combine = combine
        self.load_cdf_mean = load_cdf_mean
        self.seed = seed
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        # Not autocast: the gating math stays in the variable dtype.
        kernel = dict(shape=(input_shape[-1], self.num_experts), initializer="zeros",
                      autocast=False)
        self.gate_kernel = self.add_weight(name="gate_kernel", **kernel)
        self.noise_kernel = self.add_weight(name="noise_kernel", **kernel)
        self._expert_hidden_layers = []
        self._expert_output_layers = []
        for i in range(self.num_experts):
            hidden_layer = built(self._dense(self.hidden_dim, f"expert_{i}_hidden", "relu"),
                                 input_shape)
            self._expert_hidden_layers.append(hidden_layer)
            self._expert_output_layers.append(built(
                self._dense(self.output_dim, f"expert_{i}_output"),
                hidden_layer.compute_output_shape(input_shape),
            ))
        self.built = True

    def _dense(self, units, name, activation=None):
        """An expert layer with its own clone of the kernel initializer."""
        return keras.layers.Dense(
            units,
            activation=activation,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy,
            name=name,
        )

    def call(self, inputs, training=None, return_gates=False):
        gate_inputs = ops.cast(inputs, self.variable_dtype)
        clean_logits = ops.matmul(gate_inputs, self.gate_kernel)
        if training and self.noisy_gating:
            noise_stddev = (
                ops.softplus(ops.matmul(gate_inputs, self.noise_kernel)) + self.noise_epsilon
            )
            noise = keras.random.normal(
                ops.shape(clean_logits), dtype=self.variable_dtype, seed=self.seed_generator
            )
            logits = clean_logits + noise * noise_stddev
        else:
            logits = clean_logits
        gates = self._top_k_gates(logits)

        experts = zip(self._expert_hidden_layers, self._expert_output_layers)
        expert_outputs = ops.stack([output(hidden(inputs)) for hidden, output in experts], axis=1)
        if self.combine == "sum":
            gate_weights = ops.cast(gates, self.compute_dtype)[:, :, None]
            outputs = ops.sum(gate_weights * expert_outputs, axis=1)
        else:
            outputs = self._log_space_combine(gates, expert_outputs)

        if training:
            if self.noisy_gating and self.top_k < self.num_experts:
                load = self._smooth_load(clean_logits, logits, noise_stddev)
            else:
                load = ops.sum(ops.cast(gates > 0, gates.dtype), axis=0)
            self.add_loss(self.auxiliary_loss(gates, load))

        if return_gates:
            return outputs, gates
        return outputs

    def _log_space_combine(self, gates, expert_outputs):
        """`log(sum_{i in top k} G_i exp(E_i))`, as a masked log-sum-exp.

        Only the selected experts enter (the released code never evaluates
        the others), shifted by their maximum so that nothing overflows: an
        unselected expert's output can be anything, even inf, without
        touching the result or its gradients. Computed in the variable dtype
        (float32 under mixed precision).
        """
        selected = (gates > 0)[:, :, None]
        values = ops.cast(expert_outputs, self.variable_dtype)
        lowest = np.finfo(np.float32).min
        peak = ops.max(ops.where(selected, values, lowest), axis=1, keepdims=True)
        shifted = ops.where(selected, values - peak, 0.0)
        weights = ops.where(selected, gates[:, :, None], 0.0)
        total = ops.sum(weights * ops.exp(shifted), axis=1)
        # `total` >= the largest selected gate; the floor only guards a gate
        # that underflowed to zero.
        tiny = np.finfo(np.float32).tiny
        outputs = ops.squeeze(peak, 1) + ops.log(ops.maximum(total, tiny))
        return ops.cast(outputs, self.compute_dtype)

    def _top_k_gates(self, logits):
        """Softmax over the top k logits of each row, zeros elsewhere."""
        top_logits, top_indices = ops.top_k(logits, k=self.top_k)
        if self.top_k == 1:
            # The softmax of a single value is 1.
            top_gates = ops.ones_like(top_logits)
        else:
            top_gates = ops.softmax(top_logits, axis=-1)
        one_hot = ops.one_hot(top_indices, self.num_experts, dtype=top_gates.dtype)
        return ops.sum(one_hot * top_gates[:, :, None], axis=1)

    def _smooth_load(self, clean_logits, noisy_logits, noise_stddev):
        """Shazeer et al.'s differentiable estimate of the expert load.

        For each sample and expert, the probability that the expert is in
        the sample's top k when only its own noise is redrawn, summed over
        the batch.
        """
        top_logits, _ = ops.top_k(noisy_logits, k=self.top_k + 1)
        threshold_if_in = top_logits[:, self.top_k :]
        threshold_if_out = top_logits[:, self.top_k - 1 : self.top_k]
        prob_if_in = self._normal_cdf((clean_logits - threshold_if_in) / noise_stddev)
        prob_if_out = self._normal_cdf((clean_logits - threshold_if_out) / noise_stddev)
        prob = ops.where(noisy_logits > threshold_if_in, prob_if_in, prob_if_out)
        return ops.sum(prob, axis=0)

    def _normal_cdf(self, x):
        """The CDF of N(load_cdf_mean, 1)."""
        return 0.5 * (1.0 + ops.erf((x - self.load_cdf_mean) / math.sqrt(2.0)))

    def auxiliary_loss(self, gates, load):
        """The load-balancing loss for gates [B, s] and a load [s].

        Returns `loss_weight * (cv2(importance) + cv2(load))` with
        `importance = sum(gates, axis=0)`.
        """
        gates = ops.convert_to_tensor(gates)
        load = ops.cast(ops.convert_to_tensor(load), gates.dtype)
        importance = ops.sum(gates, axis=0)
        return self.loss_weight * (self._cv_squared(importance) + self._cv_squared(load))

    def _cv_squared(self, values):
        """var(values) / (mean(values)**2 + 1e-10), unbiased variance."""
        if self.num_experts == 1:
            return ops.zeros((), dtype=values.dtype)
        mean = ops.mean(values)
        variance = ops.sum(ops.square(values - mean)) / (self.num_experts - 1)
        return variance / (ops.square(mean) + 1e-10)

    def get_config(self):
        return {**super().get_config(), **arguments_config(self)}
