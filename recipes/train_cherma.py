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

import sys

from glomo_keras.commands.train import recipe_arguments

# The flags come first: `--backend` has to be set before Keras is imported.
args = recipe_arguments("cherma")

from glomo_keras.backbones import load_tokenizer  # noqa: E402
from glomo_keras.commands.train import build_config  # noqa: E402
from glomo_keras.commands.train import print_where_results_are  # noqa: E402
from glomo_keras.commands.train import training_options  # noqa: E402
from glomo_keras.errors import GLoMoError  # noqa: E402
from glomo_keras.training import prepare_data  # noqa: E402
from glomo_keras.training import train  # noqa: E402

# 1. The configuration: the paper's CHERMA column, then `--config`/`--set`.
config = build_config(args, **args.config_defaults)
print(f"{config.dataset}: hidden {config.hidden_dim}, {config.num_layers} encoder layers, "
      f"T {config.max_sequence_length}, batch {config.batch_size}, {config.epochs} epochs")

# 2. The data: CHERMA's text is features, so no tokenizer; the built-in
# sample has words, which the backbone's WordPiece tokenizer splits.
tokenizer = load_tokenizer(args.backbone) if config.text_encoder == "bert" else None
config, data = prepare_data(config, args.data, tokenizer, use_cache=not args.no_cache)
print(data.report)

# 3. Training. For each seed `train` builds GLoMo(config, backbone), compiles
# it with AdamW and the cross-entropy loss, and runs `model.fit` with the
# callbacks: the validation monitor (MMSA metrics once per epoch,
# TensorBoard), the best-epoch keeper and time-bounded backups (a killed run
# resumes). The best epoch scores the test split; the best seed becomes a
# preset and a SavedModel.
try:
    results = train(config, data, args.output, **training_options(args))
except GLoMoError as error:
    print(f"train_cherma.py: {error}", file=sys.stderr)
    sys.exit(2)

# 4. The results: the table above (per seed, mean ± std), and where the run is.
print_where_results_are(results, args.output)
