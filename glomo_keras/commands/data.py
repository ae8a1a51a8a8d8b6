"""`glomo-keras data`: inspect a data file, or write the built-in sample.

Example:

```
glomo-keras data inspect mosi.pkl --json
glomo-keras data inspect CHERMA0723/ --format cherma
glomo-keras data sample --output sample.pkl
```
"""

import json
import os

from glomo_keras.cli import positive_int
from glomo_keras.data.common import FORMATS
from glomo_keras.errors import UsageError


def configure(parser):
    """Adds the `data` command's `inspect` and `sample` sub-commands to `parser`."""
    commands = parser.add_subparsers(dest="data_command", required=True, metavar="inspect|sample")

    inspect_parser = commands.add_parser(
        "inspect", help="format, split sizes, labels, lengths, dims and replaced non-finite values")
    inspect_parser.add_argument("path", help="a MAG, HKT or MMSA pickle, or a CHERMA folder")
    inspect_parser.add_argument("--json", action="store_true", help="print JSON")
    inspect_parser.add_argument("--format", default="auto", choices=("auto",) + FORMATS,
                                help="the layout (default: detect)")
    inspect_parser.add_argument("--vocabulary", help="a WordPiece vocab.txt: count MAG/HKT "
                                "lengths in pieces instead of words")
    inspect_parser.add_argument("--max-length", type=positive_int,
                                help="T for the truncation count (default: the dataset's)")
    inspect_parser.set_defaults(func=run_inspect)

    sample_parser = commands.add_parser(
        "sample", help="write the built-in sample dataset (MAG MOSEI layout) as a pickle")
    sample_parser.add_argument("--output", required=True, help="the pickle to write")
    sample_parser.add_argument("--force", action="store_true",
                               help="replace an existing --output file")
    sample_parser.set_defaults(func=run_sample)


def run_inspect(args):
    """Prints what a data file holds; returns 0."""
    from glomo_keras.data.inspection import format_inspection, inspect

    result = inspect(args.path, args.format, args.vocabulary, args.max_length)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(format_inspection(result))
    return 0


def run_sample(args):
    """Writes the sample pickle; returns 0 (`UsageError`: `--output` exists, no `--force`)."""
    from glomo_keras.data import sample

    if os.path.exists(args.output) and not args.force:
        raise UsageError(f"--output {args.output} exists; pass --force to replace it")
    path = sample.write(args.output)
    sizes = ", ".join(f"{split} {size}" for split, size in sample.SIZES.items())
    print(f"wrote {path} (MAG MOSEI layout: {sizes}; acoustic {sample.ACOUSTIC_DIM}, "
          f"visual {sample.VISUAL_DIM})")
    return 0
