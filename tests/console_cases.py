"""Runs many console-script command lines in one fresh process.

Each command line goes through `glomo_keras.cli.main`, as `python -m
glomo_keras` runs it (with `sys.argv` as that process would see it), or, when
its first word ends in `.py`, runs that script as `python SCRIPT ...` would
(`runpy`, as `__main__`). Each has its own capture of file descriptors 1 and
2 (Python's and TensorFlow's writes alike), its own warning registry (a
warning shown once per process shows again for each command line) and its
exit status; an uncaught exception prints its traceback and exits 1, as
Python does. One process pays TensorFlow's import once instead of once per
command line.

Usage: python console_cases.py CASES_JSON RESULTS_JSON (in the working
directory the command lines expect). CASES_JSON holds a JSON list of argv
lists; RESULTS_JSON receives a list of {"returncode", "stdout", "stderr",
"files"}, where "files" maps every file under the working directory to its
SHA-256 after the command line ran.

Example:

```python
subprocess.run([sys.executable, "console_cases.py", "cases.json", "results.json"],
               cwd=workspace, check=True)
```
"""

import contextlib
import hashlib
import json
import os
import runpy
import subprocess
import sys
import tempfile
import traceback
import warnings


def console_environment(**overrides):
    """This process's environment without `KERAS_BACKEND`, plus `overrides`.

    The console script then picks its backend from `--backend` alone, as in
    a fresh shell.

    Example:

    ```python
    env = console_environment(GLOMO_KERAS_CACHE=str(folder / "cache"))
    ```
    """
    environment = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    return {**environment, **overrides}


def snapshot(folder):
    """Every file under `folder` (relative path) with its content's SHA-256."""
    files = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as file:
                files[os.path.relpath(path, folder)] = hashlib.sha256(file.read()).hexdigest()
    return files


@contextlib.contextmanager
def _captured(descriptor, stream):
    """Sends file descriptor `descriptor` (and `stream`) to a file; yields the file."""
    stream.flush()
    saved = os.dup(descriptor)
    with tempfile.TemporaryFile(mode="w+") as capture:
        os.dup2(capture.fileno(), descriptor)
        try:
            yield capture
        finally:
            stream.flush()
            os.dup2(saved, descriptor)
            os.close(saved)


def _run(argv):
    """Runs the command line as its process would; returns its exit status."""
    saved_argv, saved_path = sys.argv, list(sys.path)
    try:
        if argv and argv[0].endswith(".py"):
            sys.argv = list(argv)
            sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
            runpy.run_path(argv[0], run_name="__main__")
            return 0
        from glomo_keras.cli import main

        sys.argv = ["glomo-keras", *argv]
        return main(argv)
    except SystemExit as exit:  # argparse errors, as `sys.exit(main())` ends
        return exit.code
    except BaseException:  # uncaught: Python prints the traceback and exits 1
        traceback.print_exc()
        return 1
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path


def run_one(argv):
    """Runs one command line; returns (exit status, its stdout, its stderr)."""
    with _captured(1, sys.stdout) as out, _captured(2, sys.stderr) as err, \
            warnings.catch_warnings():
        status = _run(argv)
        if isinstance(status, str):
            print(status, file=sys.stderr)
            status = 1
        sys.stdout.flush()
        sys.stderr.flush()
        out.seek(0)
        err.seek(0)
        return 0 if status is None else status, out.read(), err.read()


def run_all(cases_path, results_path):
    """Runs every argv of `cases_path`, writes their results to `results_path`."""
    with open(cases_path) as file:
        cases = json.load(file)
    results = []
    for argv in cases:
        status, stdout, stderr = run_one(argv)
        results.append({"returncode": status, "stdout": stdout, "stderr": stderr,
                        "files": snapshot(".")})
    with open(results_path, "w") as file:
        json.dump(results, file)


def run_cases(cases, cwd, records, environment=None, timeout=900):
    """Runs `cases` in one fresh process in `cwd`; returns their results.

    Args:
        cases: argv lists (see the module's docstring).
        cwd: the working directory of the command lines.
        records: a folder for cases.json and results.json (outside `cwd`
            where a test checks `cwd`'s files).
        environment: the process's environment (default: this one's
            without `KERAS_BACKEND`: the command lines choose their backend).
        timeout: seconds for all the cases together.

    Returns:
        One {"returncode", "stdout", "stderr", "files"} per case.

    Example:

    ```python
    train, export = run_cases([["train", ...], ["export", "--run", "run"]], folder, records)
    ```
    """
    if environment is None:
        environment = console_environment()
    (records / "cases.json").write_text(json.dumps([list(map(str, argv)) for argv in cases]))
    driver = subprocess.run(
        [sys.executable, os.path.abspath(__file__), str(records / "cases.json"),
         str(records / "results.json")],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env=environment,
    )
    assert driver.returncode == 0, driver.stderr[-3000:]
    return json.loads((records / "results.json").read_text())


if __name__ == "__main__":
    run_all(*sys.argv[1:])
