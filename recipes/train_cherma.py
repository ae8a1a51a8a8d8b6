"""GLoMo on CHERMA: seven Chinese emotion classes from text, audio and video.

Trains GLoMo on CHERMA with the paper's hyper-parameters (appendix Table 1:
hidden 256, 7 encoder layers, T 50, batch 400, learning rate 2e-5, 20
epochs). CHERMA ships text as features (no BERT: the text branch is the
same sequence encoder as audio and video) and seven classes (anger,
disgust, fear, happy, neutral, sad, surprise); the test split reports
accuracy and weighted F1.

Data: the `datasets/CHERMA0723/` folder (`--data` for another path).
Without it the recipe trains on the built-in sample (MOSEI layout, BERT
text, a regression demo) with the offline `minilm` backbone. It takes every
flag of `glomo-keras train`.

Run:

    python recipes/train_cherma.py --seeds 1111 1112 1113
"""

from _recipe import run_recipe

run_recipe("cherma")
