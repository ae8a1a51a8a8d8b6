"""A benchmark measurement in a subprocess of its own: the worker prints one row, the parent reads it.

Benchmarks run each variant (a backend, a precision, a dtype policy) in a
fresh Python process, so that global state (dtype policies, the backend,
thread pools) of one never leaks into the next. The worker prints its row as
one `RESULT {json}` line on stdout; the parent runs it with this repository
on `PYTHONPATH` and TensorFlow's start-up logs off, and gets the row back.

Example:

```python
# in the worker (the script run with --worker):
print_row({"p50_ms": 12.5})
# in the parent:
row = run_worker([__file__, "--worker", "float32"], {"KERAS_BACKEND": "jax"})
row.get("error")  # stderr's tail when the worker failed, else None
```
"""

import json
import os
import pathlib
import subprocess
import sys
import time

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
RESULT_PREFIX = "RESULT "


def print_row(row):
    """Prints `row` (a JSON-able dict) as the worker's `RESULT` line."""
    print(RESULT_PREFIX + json.dumps(row), flush=True)


def run_worker(arguments, environment=None, timeout=None):
    """Runs `python *arguments` and returns the row its worker printed.

    Args:
        arguments: the script and its arguments.
        environment: variables set on top of this process's environment
            (KERAS_BACKEND=tensorflow, TF_CPP_MIN_LOG_LEVEL=2 and this
            repository on PYTHONPATH unless given here).
        timeout: seconds before the worker is stopped; None waits.

    Returns:
        the row, with `process_s` (the subprocess's wall seconds) added; or
        `{"error": ...}` (stderr's last 3,000 characters, or the timeout)
        when the worker failed or printed no row.
    """
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPOSITORY),
                                                       os.environ.get("PYTHONPATH")])),
           **(environment or {})}
    start = time.perf_counter()
    try:
        process = subprocess.run([sys.executable, *map(str, arguments)], env=env,
                                 capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = [line for line in process.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if process.returncode != 0 or not lines:
        return {"error": process.stderr[-3000:] or f"exit status {process.returncode}, no row"}
    row = json.loads(lines[-1][len(RESULT_PREFIX):])
    row["process_s"] = time.perf_counter() - start
    return row
