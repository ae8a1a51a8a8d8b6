"""Readable answers from GLoMo outputs: sentiment or class, and modality weights.

One function shared by `GLoMoSentimentAnalyzer.analyze`, the SavedModel
`Predictor` and the REST server, so every path answers alike.

Example:

```python
describe_outputs({"prediction": [[1.7]], "global_weights": [[0.5, 0.3, 0.2]]},
                 "regression", None)
# [{"sentiment": 1.7, "modality_weights": {"text": 0.5, "acoustic": 0.3, "visual": 0.2}}]
```
"""

import numpy as np

MODALITY_NAMES = ("text", "acoustic", "visual")


def softmax(logits):
    """Softmax over the last axis, computed in float64 and returned as float64."""
    logits = np.asarray(logits, np.float64)
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def describe_outputs(outputs, task, class_names):
    """One answer dict per utterance.

    The modality weights are the GLOBAL attention weights `W_g` of the
    fusion (spec §3.5, the weights of the mixup), in the order text,
    acoustic, visual; a modality the model leaves out has weight 0.

    Args:
        outputs: `prediction` [B, out] and `global_weights` [B, 3] (arrays).
        task: "regression" or "classification".
        class_names: the class names (classification).

    Returns:
        a list of dicts: `{"sentiment": float, "modality_weights": {...}}`
        (regression) or `{"probabilities": {class: float}, "label": class,
        "modality_weights": {...}}` (classification).
    """
    predictions = np.asarray(outputs["prediction"])
    weights = np.asarray(outputs["global_weights"])
    answers = []
    for prediction, weight in zip(predictions, weights):
        answer = {}
        if task == "regression":
            answer["sentiment"] = float(prediction[0])
        else:
            probabilities = softmax(prediction)
            answer["probabilities"] = {
                str(name): float(p) for name, p in zip(class_names, probabilities)}
            answer["label"] = str(class_names[int(np.argmax(probabilities))])
        answer["modality_weights"] = {
            name: float(value) for name, value in zip(MODALITY_NAMES, weight)}
        answers.append(answer)
    return answers
