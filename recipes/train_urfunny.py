"""GLoMo on UR-FUNNY: is the punchline humorous? Binary classification.

Paper column (appendix Table 1): hidden 112, 3 encoder layers, T 80, batch
220, learning rate 2e-5, 100 epochs, cross-entropy. HKT layout: the first
60 acoustic columns and visual columns 55-91 are kept. Answers carry the
class names `not_humorous`/`humorous`; the test split reports accuracy
and weighted F1. Data: `datasets/urfunny.pkl`. Shared: `_recipe.py`.

    python recipes/train_urfunny.py --seeds 1111 1112 1113
"""

from _recipe import run_recipe

run_recipe("urfunny")
