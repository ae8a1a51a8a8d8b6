"""GLoMo on CMU-MOSI: multimodal sentiment regression, as in the paper.

Trains GLoMo (text through BERT, acoustic and visual features, global-local
fusion) on CMU-MOSI with the paper's hyper-parameters (appendix Table 1:
hidden 48, 4 encoder layers, T 60, batch 240, learning rate 4e-5, 70
epochs) and reports the MMSA metrics (MAE, Corr, Acc-7/5/2, F1) on the test
split.

Data: `datasets/mosi.pkl` (MAG, HKT or MMSA layout; `--data` for another
path). Without it the recipe trains on the built-in sample with the offline
`minilm` backbone for a few minutes. It takes every flag of
`glomo-keras train`.

Run:

    python recipes/train_mosi.py --seeds 1111 1112 1113 1114 1115
    python recipes/train_mosi.py --compatibility released   # the authors' code's function
"""

from _recipe import run_recipe

run_recipe("mosi")
