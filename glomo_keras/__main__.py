"""`python -m glomo_keras` runs the command line."""

import sys

from glomo_keras.cli import main

sys.exit(main())
