"""
Title: GLoMo from scratch: global-local fusion with modality experts
Author: glomo-keras contributors
Date created: 2026/12/06
Last modified: 2026/12/06
Description: Build a small GLoMo-style multimodal sentiment model from the package's layers and train it on the built-in sample.
Accelerator: None
"""

"""
## Introduction

GLoMo (ACM MM 2024) reads the text, audio and video of an utterance and
predicts its sentiment. Each modality gives a **global** vector (the whole
utterance) and **local** vectors (a few windows of it); a noisy top-k
**mixture of experts** per modality mixes the local windows, and the
**global-guided fusion** weighs the modalities, guided by the global vectors.
Here we wire those layers with the Functional API, a small embedding in
place of BERT, and train for a few epochs on the package's built-in sample
(600 film reviews in the MOSEI layout) on a CPU.

## Setup
"""

import os
os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # jax and torch work too

import keras
import numpy as np
from keras import layers

from glomo_keras.data import sample
from glomo_keras.layers import (AdaptiveMaxPooling1D, GlobalGuidedFusion, NoisyTopKMoE,
                                SequenceEncoder)

keras.utils.set_random_seed(5576)
T = 24  # words kept per utterance
HIDDEN = 16  # d, the width of every vector
WINDOWS = 3  # n, local windows per modality

"""
## The data

`sample.build()` returns the MAG-BERT layout: per split, items
`((words, visual, acoustic), label, segment)` with one acoustic (74 values) and
one visual (35 values) row per word and a sentiment label in [-3, 3]. We map
words to ids, pad to `T` words and set the few non-finite values to 0.
"""

data = sample.build()
words = sorted({w for (ws, _, _), _, _ in data["train"] for w in ws})
vocabulary = {word: index + 2 for index, word in enumerate(words)}  # 0 pads, 1 unknown


def encode(items):
    n = len(items)
    ids, mask = np.zeros((n, T), "int32"), np.zeros((n, T), "int32")
    acoustic, visual = np.zeros((n, T, 74), "float32"), np.zeros((n, T, 35), "float32")
    for i, ((ws, v, a), _, _) in enumerate(items):
        k = min(len(ws), T)
        ids[i, :k], mask[i, :k] = [vocabulary.get(w, 1) for w in ws[:k]], 1
        acoustic[i, :k], visual[i, :k] = a[:k], v[:k]
    finite = dict(nan=0.0, posinf=0.0, neginf=0.0)
    x = {"token_ids": ids, "mask": mask, "acoustic": np.nan_to_num(acoustic, **finite),
         "visual": np.nan_to_num(visual, **finite)}
    return x, np.array([float(label.squeeze()) for _, label, _ in items], "float32")


(x_train, y_train), (x_valid, y_valid), (x_test, y_test) = (
    encode(data[split]) for split in ("train", "dev", "test"))

"""
## Global and local vectors per modality

Audio and video go through a `SequenceEncoder` (convolution, positions, a
transformer): the max over time is the global vector, the adaptive max pooling
to `WINDOWS` windows, flattened, the local one; `length_aware=True` skips the
padding. For text an embedding and a convolution stand in for BERT, pooled by
`AdaptiveMaxPooling1D` over each utterance's real length (the mask).
"""

inputs = {
    "token_ids": keras.Input((T,), dtype="int32", name="token_ids"),
    "acoustic": keras.Input((T, 74), name="acoustic"),
    "visual": keras.Input((T, 35), name="visual"),
    "mask": keras.Input((T,), dtype="int32", name="mask"),
}
text = layers.Embedding(len(vocabulary) + 2, HIDDEN)(inputs["token_ids"])
text = layers.Conv1D(HIDDEN, 3, padding="same", use_bias=False)(text)
text_global = layers.GlobalMaxPooling1D()(text)
text_local = layers.Flatten()(AdaptiveMaxPooling1D(WINDOWS)(text, mask=inputs["mask"]))
pairs = {"text": (text_global, text_local)}
for name in ("acoustic", "visual"):
    encoder = SequenceEncoder(hidden_dim=HIDDEN, num_layers=1, num_heads=2,
                              num_windows=WINDOWS, length_aware=True, name=f"{name}_encoder")
    pairs[name] = encoder(inputs[name], padding_mask=inputs["mask"])

"""
## A mixture of experts per modality, then the fusion

`NoisyTopKMoE` routes each local vector to its 2 best of 3 experts (gate noise
in training) and in training adds a load-balancing loss with `add_loss`, which
`fit` adds to the task loss. The fusion reads the tokens
`[G_t, L_t, G_a, L_a, G_v, L_v]` and returns the prediction and the modality
weights of its global and local attention poolings.
"""

tokens = []
for index, (name, (global_vector, local_vector)) in enumerate(pairs.items()):
    moe = NoisyTopKMoE(num_experts=3, top_k=2, hidden_dim=HIDDEN, output_dim=HIDDEN,
                       seed=index, name=f"{name}_moe")
    for vector in (global_vector, moe(local_vector)):
        tokens.append(layers.Reshape((1, HIDDEN))(vector))
fusion = GlobalGuidedFusion(hidden_dim=HIDDEN, output_dim=1, num_heads=2, num_layers=1,
                            intermediate_dim=32)
prediction, global_weights, _ = fusion(layers.Concatenate(axis=1)(tokens))
model = keras.Model(inputs, prediction, name="small_glomo")
explainer = keras.Model(inputs, global_weights)  # same layers: the modality weights
model.summary()

"""After a training-mode call, `model.losses` holds one balancing loss per MoE:"""

model({name: value[:8] for name, value in x_train.items()}, training=True)
print("MoE balancing losses:", [float(loss) for loss in model.losses])

"""## Training: mean absolute error, as the paper trains regression, with AdamW"""

model.compile(optimizer=keras.optimizers.AdamW(learning_rate=3e-3), loss="mae")
model.optimizer.build(model.trainable_variables)  # now, or TensorFlow traces the step twice
# Batches of 50 divide every split, so each step has one shape (JAX compiles once).
model.fit(x_train, y_train, validation_data=(x_valid, y_valid), batch_size=50, epochs=6,
          verbose=2)

"""## Results: test error, sign accuracy, each modality's weight for a few utterances"""

predictions = model.predict(x_test, batch_size=50, verbose=0)[:, 0]
print(f"test MAE {np.mean(np.abs(predictions - y_test)):.3f}, "
      f"sign accuracy {np.mean((predictions >= 0) == (y_test >= 0)):.3f}")
weights = explainer.predict({name: value[:3] for name, value in x_test.items()}, verbose=0)
for item, row in zip(data["test"][:3], weights):
    shares = {m: round(float(w), 2) for m, w in zip(("text", "acoustic", "visual"), row)}
    print(" ".join(item[0][0]), "->", shares)

"""
## Next

`glomo_keras.GLoMo` builds this graph with BERT and the paper's sizes
(`GLoMoConfig.for_dataset("mosei")`); `glomo-keras train --dataset mosei`
trains it with the paper's recipe (`docs/training.md`).
"""
