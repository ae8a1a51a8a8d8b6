"""Runs many console-script command lines in one fresh process.

Each command line goes through `glomo_keras.cli.main`, as `python -m
glomo_keras` runs it, with its own capture of file descriptor 2 (Python's
and TensorFlow's writes to stderr alike), its own warning registry (a
warning shown once per process shows again for each command line) and its
exit status. One process pays TensorFlow's import once instead of once per
command line.

Usage: python console_cases.py CASES_JSON RESULTS_JSON (in the working
directory the command lines expect). CASES_JSON holds a JSON list of argv
lists; RESULTS_JSON receives a list of {"returncode", "stderr", "files"},
where "files" maps every file under the working directory to its SHA-256
after the command line ran.

Example:

```python
subprocess.run([sys.executable, "console_cases.py", "cases.json", "results.json"],
               cwd=workspace, check=True)
```
"""

import hashlib
import json
import os
import sys
import tempfile
import warnings


def snapshot(folder):
    """Every file under `folder` (relative path) with its content's SHA-256."""
    files = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as file:
                files[os.path.relpath(path, folder)] = hashlib.sha256(file.read()).hexdigest()
    return files


def run_one(argv):
    """Runs `glomo-keras *argv`; returns (exit status, everything written to fd 2)."""
    from glomo_keras.cli import main

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as capture, warnings.catch_warnings():
        os.dup2(capture.fileno(), 2)
        try:
            try:
                status = main(argv)
            except SystemExit as exit:  # argparse errors, as `sys.exit(main())` ends
                status = exit.code
            if isinstance(status, str):
                print(status, file=sys.stderr)
                status = 1
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        return 0 if status is None else status, capture.read()


def run_all(cases_path, results_path):
    """Runs every argv of `cases_path`, writes their results to `results_path`."""
    with open(cases_path) as file:
        cases = json.load(file)
    results = []
    for argv in cases:
        status, stderr = run_one(argv)
        results.append({"returncode": status, "stderr": stderr, "files": snapshot(".")})
    with open(results_path, "w") as file:
        json.dump(results, file)


if __name__ == "__main__":
    run_all(*sys.argv[1:])
