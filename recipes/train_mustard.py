"""GLoMo on MUStARD: is the utterance sarcastic? Binary classification.

Paper column (appendix Table 1): hidden 160, 3 encoder layers, T 70, batch
64, learning rate 2e-5 and only 5 epochs (a small dataset). Same HKT
layout and kept columns as UR-FUNNY; answers are `not_sarcastic` or
`sarcastic`. Data: `datasets/mustard.pkl`. Shared: `_recipe.py`.

    python recipes/train_mustard.py --seeds 1111 1112 1113
"""

from _recipe import run_recipe

run_recipe("mustard")
