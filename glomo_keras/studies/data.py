"""`load_for_config`: a data file tokenised once, for many runs of one configuration family."""

from glomo_keras.backbones import load_tokenizer
from glomo_keras.data import LoadedDataset
from glomo_keras.training import trainer


def load_for_config(config, data, backbone="minilm", use_cache=True):
    """Loads `data` as `train` would for `config`, to reuse across runs.

    The MAG and HKT layouts align the acoustic and visual features to the
    backbone's WordPieces, so they are tokenised with the backbone's
    tokenizer whenever the config's text encoder is BERT, even for a point
    that leaves text out: every point of a study then sees the same
    utterances, lengths and alignment.

    Args:
        config: a `GLoMoConfig` (T, column selection, text encoder).
        data: a data file or folder, or an already `LoadedDataset`.
        backbone: the backbone spec whose tokenizer aligns the data.
        use_cache: use the tokenised-data cache.

    Returns:
        A `LoadedDataset` that `train(config, dataset, ...)` accepts.

    Example:

    ```python
    dataset = load_for_config(config, "datasets/mosi.pkl", "bert_base_en_uncased")
    train(config.replace(fusion="sum"), dataset, "runs/sum")
    ```
    """
    if isinstance(data, LoadedDataset):
        return data
    tokenizer = load_tokenizer(backbone) if config.text_encoder == "bert" else None
    return trainer.load_for_config(config, data, tokenizer, use_cache)
