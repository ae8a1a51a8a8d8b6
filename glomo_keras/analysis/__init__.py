"""The paper's analysis of a trained model: t-SNE figures, weights, expert load, Projector.

Example:

```python
from glomo_keras.analysis import plot_run

plot_run("runs/mosi")   # runs/mosi/figures/*.png, and in tensorboard --logdir runs/mosi/logs
```
"""

from glomo_keras.analysis.collect import RunNotFinishedError
from glomo_keras.analysis.collect import collect_representations
from glomo_keras.analysis.run_figures import plot_run

__all__ = ["RunNotFinishedError", "collect_representations", "plot_run"]
