"""GLoMo on UR-FUNNY: is the punchline humorous? Binary classification.

Trains GLoMo on UR-FUNNY (HKT layout: the first 60 acoustic and columns
55-91 of the visual features are kept) with the paper's hyper-parameters
(appendix Table 1: hidden 112, 3 encoder layers, T 80, batch 220, learning
rate 2e-5, 100 epochs) and the cross-entropy loss; the test split reports
accuracy and weighted F1, and every answer carries the class names
`not_humorous`/`humorous`.

Data: `datasets/urfunny.pkl` (`--data` for another path). Without it the
recipe trains on the built-in sample (a regression demo) with the offline
`minilm` backbone. It takes every flag of `glomo-keras train`.

Run:

    python recipes/train_urfunny.py --seeds 1111 1112 1113
"""

from _recipe import run_recipe

run_recipe("urfunny")
