#!/usr/bin/env bash
# Runs the test suite: every test (slow ones included) on TensorFlow, and the
# layer and model tests (marked `backends`) on JAX and PyTorch too.
# Usage: bash scripts/test.sh [pytest args ...]   e.g. -x, or tests/test_model.py
#
# The TensorFlow pass spreads the test files over two pytest-xdist workers
# (`--dist loadfile` keeps each file's module-scoped models in one worker),
# in the order of tests/conftest.py, slow files first (`--no-loadscope-reorder`;
# xdist's own order, by number of tests, starts them last). Artifacts that
# several files use are built once per session (tests/shared_artifacts.py).
# The JAX and PyTorch passes run beside it. The console-script tests start
# fresh processes that pick their backend with --backend (tensorflow, jax and
# torch are each covered there), so one pass runs them. Each line is prefixed
# with its backend; the short summary names each failure, error and skip
# with its reason (`-rfEs`); the exit status is non-zero when any pass fails.
set -uo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2
# One PyTorch (OpenMP) thread per process: the passes share the cores, and
# PyTorch's spinning worker threads made its tiny eager steps several times
# slower under that sharing (TensorFlow and JAX run alike either way).
export OMP_NUM_THREADS=1

run_pass() {
  local backend=$1 start status
  shift
  start=$(date +%s)
  echo "=== pytest with KERAS_BACKEND=${backend} ==="
  KERAS_BACKEND="${backend}" python -m pytest -q -rfEs -p no:cacheprovider "$@" 2>&1 \
    | sed -u "s/^/[${backend}] /"
  status=${PIPESTATUS[0]}
  echo "=== ${backend}: $(( $(date +%s) - start )) s, exit status ${status} ==="
  return "${status}"
}

run_pass tensorflow -n 2 --dist loadfile --no-loadscope-reorder "$@" &
tensorflow=$!
# XLA's optimising passes and its CPU fusion emitters cost more than they
# save on the tiny test models, whose eager JAX steps compile one small XLA
# program per operation and shape: without the passes the compiles are about
# a quarter faster; without the fusion emitters too, the whole pass takes
# about a third less CPU (347 -> 233 core-seconds; the same tests pass).
# Appended, so an XLA_FLAGS already set still applies. Only this pass gets
# them: the console's JAX run (test_command_line) compiles with XLA's
# defaults, as users do.
XLA_FLAGS="${XLA_FLAGS:+${XLA_FLAGS} }--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true --xla_cpu_use_fusion_emitters=false" \
  run_pass jax -m backends "$@" &
jax=$!
run_pass torch -m backends "$@" &
torch=$!
failed=0
for pid in "${tensorflow}" "${jax}" "${torch}"; do
  wait "${pid}" || failed=1
done
exit "${failed}"
