"""Readable answers from GLoMo outputs, alike for the analyzer, the Predictor and the server."""

import numpy as np

MODALITY_NAMES = ("text", "acoustic", "visual")


def softmax(logits):
    """Softmax over the last axis, computed in float64 and returned as float64."""
    logits = np.asarray(logits, np.float64)
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def describe_outputs(outputs, task, class_names):
    """One answer dict per utterance: sentiment or class, and modality weights.

    The modality weights are the GLOBAL attention weights `W_g` of the fusion
    (spec §3.5), in the order text, acoustic, visual; 0 for a modality left out.

    Args:
        outputs: `prediction` [B, out] and `global_weights` [B, 3] (arrays).
        task: "regression" (`{"sentiment", "modality_weights"}`) or
            "classification" (`{"probabilities", "label", "modality_weights"}`).
        class_names: the class names (classification).

    Example:

    ```python
    describe_outputs({"prediction": [[1.7]], "global_weights": [[0.5, 0.3, 0.2]]},
                     "regression", None)
    # [{"sentiment": 1.7, "modality_weights": {"text": 0.5, "acoustic": 0.3, "visual": 0.2}}]
    ```
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
