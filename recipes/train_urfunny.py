"""Train GLoMo on UR-FUNNY with the paper's hyper-parameters (spec §5).

Reads `datasets/urfunny.pkl` with `bert_base_en_uncased`; when that is absent, trains
on the built-in sample with the offline `minilm` backbone (a demo of a few
minutes). Takes the flags of `glomo-keras train`.

Example:

    python recipes/train_urfunny.py --seeds 1111 1112 1113 1114 1115
"""

import sys

from glomo_keras.commands.train import recipe_main

if __name__ == "__main__":
    sys.exit(recipe_main("urfunny"))
