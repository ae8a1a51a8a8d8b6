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

import sys

from glomo_keras.commands.train import recipe_arguments

# The flags come first: `--backend` has to be set before Keras is imported.
args = recipe_arguments("mustard")

from glomo_keras.backbones import load_tokenizer  # noqa: E402
from glomo_keras.commands.train import build_config  # noqa: E402
from glomo_keras.commands.train import print_where_results_are  # noqa: E402
from glomo_keras.commands.train import training_options  # noqa: E402
from glomo_keras.errors import GLoMoError  # noqa: E402
from glomo_keras.training import prepare_data  # noqa: E402
from glomo_keras.training import train  # noqa: E402

# 1. The configuration: the paper's MUStARD column, then `--config`/`--set`.
config = build_config(args, **args.config_defaults)
print(f"{config.dataset}: hidden {config.hidden_dim}, {config.num_layers} encoder layers, "
      f"T {config.max_sequence_length}, batch {config.batch_size}, {config.epochs} epochs")

# 2. The data: the backbone's WordPiece tokenizer splits each word, and each
# WordPiece takes its word's acoustic and visual rows (cached for next time).
tokenizer = load_tokenizer(args.backbone)
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
    print(f"train_mustard.py: {error}", file=sys.stderr)
    sys.exit(2)

# 4. The results: the table above (per seed, mean ± std), and where the run is.
print_where_results_are(results, args.output)
