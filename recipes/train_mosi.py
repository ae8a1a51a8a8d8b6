"""GLoMo on CMU-MOSI: multimodal sentiment regression, as in the paper.

Paper column (appendix Table 1): hidden 48, 4 encoder layers, T 60, batch
240, learning rate 4e-5, 70 epochs; text through BERT. The test split
reports the MMSA metrics (MAE, Corr, Acc-7/5/2, F1). Data:
`datasets/mosi.pkl` (MAG, HKT or MMSA layout). What every recipe shares
(flags, the built-in sample when the file is absent): `_recipe.py`.

    python recipes/train_mosi.py --seeds 1111 1112 1113 1114 1115
    python recipes/train_mosi.py --compatibility released   # the authors' code's function
"""

from _recipe import run_recipe

run_recipe("mosi")
