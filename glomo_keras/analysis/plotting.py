"""Headless matplotlib figures: created without pyplot, saved as PNG.

Figures are `matplotlib.figure.Figure` objects drawn by the Agg canvas, so
nothing needs a display and no global pyplot state is touched.
"""

import pathlib

from glomo_keras.errors import SetupError

# Distinct colours (Okabe–Ito, colour-blind safe), one per group of points.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9",
           "#F0E442", "#000000")
DPI = 100


def require_matplotlib():
    """Imports matplotlib, or explains how to install it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SetupError(
            "figures need matplotlib, which is not installed: pip install 'glomo-keras[analysis]'"
        ) from None


def new_figure(width=6.4, height=4.8):
    """A `Figure` of `width` × `height` inches on an Agg canvas.

    Example:

    ```python
    figure = new_figure()
    axes = figure.add_subplot()
    ```
    """
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def save_png(figure, path):
    """Saves `figure` as a PNG at its own size (no tight cropping); returns the path.

    Pixel positions computed with `pixel_positions` before saving stay
    valid in the file.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, format="png")
    return path


def pixel_positions(axes, x, y):
    """The PNG pixel (column, row) of data points, row 0 at the top.

    Call after the axes limits are final (after drawing the canvas).

    Example:

    ```python
    figure.canvas.draw()
    columns, rows = pixel_positions(axes, x, y)
    ```
    """
    import numpy as np

    display = axes.transData.transform(np.column_stack([x, y]))
    height = axes.figure.bbox.height
    return np.rint(display[:, 0]).astype(int), np.rint(height - display[:, 1]).astype(int)
