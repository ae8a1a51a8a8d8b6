"""GLoMo's custom Keras layers."""

from glomo_keras.layers.adaptive_max_pooling import AdaptiveMaxPooling1D
from glomo_keras.layers.attention_pooling import AttentionPooling
from glomo_keras.layers.global_guided_fusion import GlobalGuidedFusion
from glomo_keras.layers.hidden_state_concatenation import HiddenStateConcatenation
from glomo_keras.layers.noisy_top_k_moe import NoisyTopKMoE
from glomo_keras.layers.sequence_encoder import SequenceEncoder
from glomo_keras.layers.sequence_encoder import sinusoidal_positions
from glomo_keras.layers.transformer_layer import TransformerLayer
