"""GLoMo on MUStARD: is the utterance sarcastic? Binary classification.

Trains GLoMo on MUStARD (HKT layout: the first 60 acoustic and columns 55-91
of the visual features are kept) with the paper's hyper-parameters
(appendix Table 1: hidden 160, 3 encoder layers, T 70, batch 64, learning
rate 2e-5, 5 epochs) and the cross-entropy loss; the test split reports
accuracy and weighted F1, and every answer carries the class names
`not_sarcastic`/`sarcastic`.

Data: `datasets/mustard.pkl` (`--data` for another path). Without it the
recipe trains on the built-in sample (a regression demo) with the offline
`minilm` backbone. It takes every flag of `glomo-keras train`.

Run:

    python recipes/train_mustard.py --seeds 1111 1112 1113
"""

from _recipe import run_recipe

run_recipe("mustard")
