"""GLoMo on CMU-MOSEI: multimodal sentiment regression, as in the paper.

Trains GLoMo (text through BERT, acoustic and visual features, global-local
fusion) on CMU-MOSEI with the paper's hyper-parameters (appendix Table 1:
hidden 192, 3 encoder layers, T 80, batch 64, learning rate 1e-5, 100
epochs) and reports the MMSA metrics on the test split.

Data: `datasets/mosei.pkl` (MAG, HKT or MMSA layout; `--data` for another
path). Without it the recipe trains on the built-in sample with the offline
`minilm` backbone for a few minutes. It takes every flag of
`glomo-keras train`.

Run:

    python recipes/train_mosei.py --seeds 1111 1112 1113 1114 1115
    python recipes/train_mosei.py --backend torch --set hidden_dim=128
"""

from _recipe import run_recipe

run_recipe("mosei")
