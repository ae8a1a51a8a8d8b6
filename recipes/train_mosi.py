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

import sys

from glomo_keras.commands.train import recipe_arguments

# The flags come first: `--backend` has to be set before Keras is imported.
args = recipe_arguments("mosi")

from glomo_keras.backbones import load_tokenizer  # noqa: E402
from glomo_keras.commands.train import build_config  # noqa: E402
from glomo_keras.commands.train import print_where_results_are  # noqa: E402
from glomo_keras.commands.train import training_options  # noqa: E402
from glomo_keras.errors import GLoMoError  # noqa: E402
from glomo_keras.training import prepare_data  # noqa: E402
from glomo_keras.training import train  # noqa: E402

# 1. The configuration: the paper's MOSI column, then `--config`/`--set`.
config = build_config(args, **args.config_defaults)
print(f"{config.dataset}: hidden {config.hidden_dim}, {config.num_layers} encoder layers, "
      f"T {config.max_sequence_length}, batch {config.batch_size}, {config.epochs} epochs")

# 2. The data: the backbone's WordPiece tokenizer splits each word, and each
# WordPiece takes its word's acoustic and visual rows (cached for next time).
tokenizer = load_tokenizer(args.backbone)
config, data = prepare_data(config, args.data, tokenizer, use_cache=not args.no_cache)
print(data.report)

# 3. Training. For each seed `train` builds GLoMo(config, backbone), compiles
# it with AdamW and the L1 loss, and runs `model.fit` with the callbacks: the
# validation monitor (MMSA metrics once per epoch, TensorBoard), the best-
# epoch keeper and time-bounded backups (a killed run resumes). The best epoch
# scores the test split; the best seed becomes a preset and a SavedModel.
try:
    results = train(config, data, args.output, **training_options(args))
except GLoMoError as error:
    print(f"train_mosi.py: {error}", file=sys.stderr)
    sys.exit(2)

# 4. The results: the table above (per seed, mean ± std), and where the run is.
print_where_results_are(results, args.output)
