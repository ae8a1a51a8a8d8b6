"""The paper's analysis of a trained model: t-SNE figures, weights, expert load, Projector."""

from glomo_keras.analysis.collect import RunNotFinishedError
from glomo_keras.analysis.collect import collect_representations
from glomo_keras.analysis.run_figures import plot_run

__all__ = ["RunNotFinishedError", "collect_representations", "plot_run"]
