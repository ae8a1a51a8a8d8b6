"""`load_for_config`: a data file tokenised once, for many runs of one configuration family."""

from glomo_keras.backbones import load_tokenizer
from glomo_keras.data import LoadedDataset
from glomo_keras.training import trainer


def load_for_config(config, data, backbone="minilm", use_cache=True):
    """Loads `data` as `train` would for `config`, to reuse across runs.

    With a BERT text encoder the data is tokenised (MAG and HKT: aligned to
    WordPieces) even for a point that leaves text out, so that every point
    of a study sees the same utterances, lengths and alignment.

    Args:
        config: a `GLoMoConfig` (T, column selection, text encoder).
        data: a data file or folder, or an already `LoadedDataset` (returned).
        backbone: the backbone spec whose tokenizer aligns the data.
        use_cache: use the tokenised-data cache.

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
