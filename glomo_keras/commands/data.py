"""`glomo-keras data`: inspect a data file, or write the built-in sample.

Example:

```
glomo-keras data inspect mosi.pkl --json
glomo-keras data inspect CHERMA0723/ --format cherma
glomo-keras data sample --output sample.pkl
```
"""

import json
import sys

from glomo_keras.data.common import FORMATS


def register(subparsers):
    """Adds the `data` command and its `inspect` and `sample` sub-commands."""
    parser = subparsers.add_parser(
        "data", help="inspect a data file, or write the built-in sample dataset"
    )
    commands = parser.add_subparsers(dest="data_command", required=True)

    inspect_parser = commands.add_parser(
        "inspect",
        help="format, split sizes, labels, lengths, dims and replaced non-finite values",
    )
    inspect_parser.add_argument("path", help="a MAG, HKT or MMSA pickle, or a CHERMA folder")
    inspect_parser.add_argument("--json", action="store_true", help="print JSON")
    inspect_parser.add_argument(
        "--format", default="auto", choices=("auto",) + FORMATS, help="the layout (default: detect)"
    )
    inspect_parser.add_argument(
        "--vocabulary",
        help="a WordPiece vocab.txt: count MAG/HKT lengths in pieces instead of words",
    )
    inspect_parser.add_argument(
        "--max-length", type=int, help="T for the truncation count (default: the dataset's)"
    )
    inspect_parser.set_defaults(func=run_inspect)

    sample_parser = commands.add_parser(
        "sample", help="write the built-in sample dataset (MAG MOSEI layout) as a pickle"
    )
    sample_parser.add_argument("--output", required=True, help="the pickle to write")
    sample_parser.set_defaults(func=run_sample)


def run_inspect(args):
    """Prints what a data file holds; returns 1 if it cannot be read."""
    from glomo_keras.data.errors import DataFormatError
    from glomo_keras.data.inspection import format_inspection, inspect

    try:
        result = inspect(args.path, args.format, args.vocabulary, args.max_length)
    except (DataFormatError, OSError, ValueError) as error:
        print(f"glomo-keras data inspect: error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(format_inspection(result))
    return 0


def run_sample(args):
    """Writes the sample pickle; returns 0."""
    from glomo_keras.data import sample

    path = sample.write(args.output)
    sizes = ", ".join(f"{split} {size}" for split, size in sample.SIZES.items())
    print(f"wrote {path} (MAG MOSEI layout: {sizes}; acoustic {sample.ACOUSTIC_DIM}, "
          f"visual {sample.VISUAL_DIM})")
    return 0
