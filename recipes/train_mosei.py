"""GLoMo on CMU-MOSEI: multimodal sentiment regression, as in the paper.

Paper column (appendix Table 1): hidden 192, 3 encoder layers, T 80, batch
64, learning rate 1e-5, 100 epochs; text through BERT, the MMSA metrics
on the test split. Data: `datasets/mosei.pkl`; without it this trains on
the built-in sample in a few minutes (`python recipes/train_mosei.py`).
What every recipe shares: `_recipe.py`.

    python recipes/train_mosei.py --seeds 1111 1112 1113 1114 1115
    python recipes/train_mosei.py --backend torch --set hidden_dim=128
"""

from _recipe import run_recipe

run_recipe("mosei")
