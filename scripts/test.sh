#!/usr/bin/env bash
# Runs the whole test suite (slow tests included) once per Keras backend.
# Usage: bash scripts/test.sh [backend ...]   (default: tensorflow jax)
#
# The `console` tests start the console script in fresh processes that pick
# their backend with --backend (each of tensorflow, jax and torch is
# covered there), never from the pass's KERAS_BACKEND: they run in the
# TensorFlow pass only, and the other passes list them as deselected.
#
# The backends' passes run at the same time, each line prefixed with its
# backend: a pass keeps about one core busy on average (Python, tracing and
# JAX compiles are single-threaded), so on the 2-core CI machine the two
# together take ~27 minutes instead of ~40 one after the other. The exit
# status is non-zero when any pass fails.
set -uo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2
backends=("$@")
[ ${#backends[@]} -gt 0 ] || backends=(tensorflow jax)

run_pass() {
  local backend=$1 start status
  start=$(date +%s)
  echo "=== pytest with KERAS_BACKEND=${backend} ==="
  local select=()
  [ "${backend}" = tensorflow ] || select=(-m "not console")
  KERAS_BACKEND="${backend}" python -m pytest tests -q -p no:cacheprovider "${select[@]}" 2>&1 \
    | sed -u "s/^/[${backend}] /"
  status=${PIPESTATUS[0]}
  echo "=== ${backend}: $(( $(date +%s) - start )) s, exit status ${status} ==="
  return "${status}"
}

pids=()
for backend in "${backends[@]}"; do
  run_pass "${backend}" &
  pids+=("$!")
done
failed=0
for pid in "${pids[@]}"; do
  wait "${pid}" || failed=1
done
exit "${failed}"
