"""GLoMo on CHERMA: seven Chinese emotion classes from text, audio and video.

Paper column (appendix Table 1): hidden 256, 7 encoder layers, T 50, batch
400, learning rate 2e-5, 20 epochs. CHERMA ships its text as features, so
there is no BERT: the text branch is the sequence encoder of audio and
video. Classes: anger, disgust, fear, happy, neutral, sad, surprise
(accuracy and weighted F1). Data: the `datasets/CHERMA0723/` folder.
Shared: `_recipe.py`.

    python recipes/train_cherma.py --seeds 1111 1112 1113
"""

from _recipe import run_recipe

run_recipe("cherma")
