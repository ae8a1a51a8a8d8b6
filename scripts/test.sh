#!/usr/bin/env bash
# Runs the whole test suite (slow tests included) once per Keras backend.
# Usage: bash scripts/test.sh [backend ...]   (default: tensorflow jax)
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2
backends=("$@")
[ ${#backends[@]} -gt 0 ] || backends=(tensorflow jax)
for backend in "${backends[@]}"; do
  echo "=== pytest with KERAS_BACKEND=${backend} ==="
  start=$(date +%s)
  KERAS_BACKEND="${backend}" python -m pytest tests -q -p no:cacheprovider
  echo "=== ${backend}: $(( $(date +%s) - start )) s ==="
done
