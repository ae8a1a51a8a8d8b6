"""`glomo-keras convert`: the authors' released PyTorch weights → a `.keras` file.

Example:

```
glomo-keras convert --torch-checkpoint glomo_mosi.pth --dataset mosi --output glomo_mosi.keras
```
"""

import pathlib

from glomo_keras.artifacts import write_atomically
from glomo_keras.errors import MissingFileError
from glomo_keras.errors import SetupError
from glomo_keras.errors import UsageError
from glomo_keras.training import devices

TORCH_SUFFIXES = (".pth", ".pt", ".bin")
TORCH_MISSING = (
    "reading {path} needs PyTorch, which is not installed. Install the CPU "
    "build with `pip install \"glomo-keras[torch]\"` (or `pip install torch "
    "--index-url https://download.pytorch.org/whl/cpu`), or save the state "
    "dict as .safetensors or .npz and convert that."
)


def configure(parser):
    """Adds the `convert` flags to `parser`."""
    parser.add_argument("--torch-checkpoint", required=True, metavar="FILE",
                        help="a state dict: .pth/.pt/.bin (needs torch), "
                        ".safetensors or .npz")
    parser.add_argument("--dataset", required=True,
                        help="mosi, mosei, urfunny, mustard or cherma (Table 1 column)")
    parser.add_argument("--output", required=True, help="the .keras file to write")
    parser.add_argument("--backbone", default="random:bert_base",
                        help="the BERT shape and tokenizer (default: bert-base-uncased's "
                        "shape); its weights come from the checkpoint")
    parser.add_argument("--compatibility", default="released", choices=["released", "paper"],
                        help="released (default): the released code's function")
    parser.add_argument("--hidden-activation", default="gelu",
                        choices=["gelu", "gelu_approximate"],
                        help="BERT GELU: exact (default, as Hugging Face bert-base-uncased) or tanh")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="FIELD=VALUE", help="override a GLoMoConfig field")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    parser.add_argument("--backend", choices=devices.BACKENDS,
                        help="the Keras backend (default: KERAS_BACKEND, else tensorflow)")
    parser.set_defaults(func=run)


def read_state_dict(path):
    """Reads a state dict file into name → numpy array.

    Args:
        path: `.pth`/`.pt`/`.bin` (PyTorch, `weights_only=True`), `.safetensors` or `.npz`.

    Raises:
        MissingFileError, UsageError: no such file, an unknown suffix, or no state dict.
        SetupError: PyTorch is needed and missing; the message says what to do.

    Example:

    ```python
    state = read_state_dict("glomo_mosi.safetensors")
    ```
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise MissingFileError(f"--torch-checkpoint {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        return load_file(str(path))
    if path.suffix == ".npz":
        import numpy as np

        with np.load(path, allow_pickle=False) as arrays:
            return dict(arrays)
    if path.suffix not in TORCH_SUFFIXES:
        raise UsageError(
            f"--torch-checkpoint {path}: unknown suffix {path.suffix!r}; expected "
            f"one of {list(TORCH_SUFFIXES) + ['.safetensors', '.npz']}"
        )
    try:
        import torch
    except ImportError:
        raise SetupError(TORCH_MISSING.format(path=path)) from None
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(
        isinstance(value, torch.Tensor) for value in state.values()
    ):
        raise UsageError(
            f"--torch-checkpoint {path} holds no state dict (name → tensor); save "
            "one with torch.save(model.state_dict(), path)"
        )
    return {name: value.detach().float().numpy() for name, value in state.items()}


def run(args):
    """Converts for parsed flags; returns 0."""
    from glomo_keras.convert import StateDictError
    from glomo_keras.convert import from_torch_state_dict
    from glomo_keras.training.flags import parse_overrides
    from glomo_keras.training.options import run_settings

    output = pathlib.Path(args.output)
    if output.suffix != ".keras":
        raise UsageError(f"--output {output} must end in .keras")
    if output.exists() and not args.overwrite:
        raise UsageError(f"--output {output} exists; pass --overwrite to replace it")
    state = read_state_dict(args.torch_checkpoint)
    config, _ = run_settings(
        args.dataset, {"compatibility": args.compatibility, **parse_overrides(args.overrides)}
    )
    try:
        model, notes = from_torch_state_dict(
            state, config, args.backbone, hidden_activation=args.hidden_activation
        )
    except StateDictError as error:
        raise StateDictError(f"--torch-checkpoint {args.torch_checkpoint}: {error}") from None
    for note in notes:
        print(f"note: {note}")
    output.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(output, model.save)
    print(f"converted {len(state)} tensors ({len(notes)} notes) → {output} "
          f"({model.count_params():,} parameters, compatibility={config.compatibility})")
    return 0
