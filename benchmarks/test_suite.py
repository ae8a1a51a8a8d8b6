"""How long the README's test command takes: `bash scripts/setup.sh && bash scripts/test.sh`.

Runs the command once, as CI does, and records the wall time of each part
(setup is seconds where everything is installed already), the CPU seconds
of all the suite's processes (user + system), and each test pass's own wall
time and pytest summary. This machine's speed
drifts by tens of percent within an hour, so, with `--reference`, a fixed
tiny training (`glomo-keras train`, one epoch of the tiny model on 16/8/8
utterances of the built-in sample, no export, no data cache) is timed before
and after the suite: compare suites only where their reference figures agree.

Run:

    python benchmarks/test_suite.py --reference
    python benchmarks/test_suite.py -- tests/test_model.py   # pytest arguments after --

Writes `benchmarks/results/test_suite.json` and prints a table.
"""

import argparse
import json
import os
import pathlib
import pickle
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
PASS_LINE = re.compile(r"^=== (\w+): (\d+) s, exit status (\d+) ===$")
SUMMARY_LINE = re.compile(r"^\[(\w+)\] (?:=+ )?(\d+ (?:passed|failed).* in [\d.]+s.*?)(?: =+)?$")
REFERENCE_FLAGS = [
    "--backend", "tensorflow", "--backbone", "random:bert_tiny", "--batch-size", "8",
    "--set", "hidden_dim=16", "--set", "num_heads=2", "--set", "num_layers=1",
    "--set", "fusion_layers=1", "--set", "fusion_intermediate_dim=32",
    "--set", "max_sequence_length=16", "--epochs", "1", "--no-export", "--no-cache",
]


def timed(command, echo=False, **kwargs):
    """(wall seconds, CPU seconds of the process and its children, exit status, stdout).

    With `echo`, each line of the command's output is printed as it comes.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, **kwargs) as process:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if echo:
                print(line, end="", flush=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, process.returncode, "".join(lines)


def write_reference_data(folder):
    """Writes `folder/small.pkl`: the first 16/8/8 utterances of the built-in sample."""
    from glomo_keras.data import sample

    data = sample.build()
    small = {split: items[:size] for (split, items), size in zip(data.items(), (16, 8, 8))}
    with open(folder / "small.pkl", "wb") as file:
        pickle.dump(small, file, protocol=4)


def reference_training(folder):
    """{"wall_s", "cpu_s"} of the tiny reference training on `folder/small.pkl`."""
    wall, cpu, status, output = timed(
        [sys.executable, "-m", "glomo_keras", "train", "--dataset", "mosei", "--data",
         "small.pkl", *REFERENCE_FLAGS, "--output", "run", "--overwrite"], cwd=folder)
    if status != 0:
        raise RuntimeError(f"the reference training failed:\n{output[-3000:]}")
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", action="store_true",
                        help="time the tiny reference training before and after the suite")
    parser.add_argument("--output", type=pathlib.Path,
                        default=REPOSITORY / "benchmarks" / "results" / "test_suite.json")
    parser.add_argument("pytest_args", nargs="*", help="passed on to scripts/test.sh")
    args = parser.parse_args()
    result = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPOSITORY,
                                       capture_output=True, text=True).stdout.strip(),
              "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "pytest_args": args.pytest_args}
    with tempfile.TemporaryDirectory(prefix="glomo-reference-") as folder:
        folder = pathlib.Path(folder)
        if args.reference:
            write_reference_data(folder)
            result["reference_before"] = reference_training(folder)
        setup_wall, _, status, output = timed(["bash", "scripts/setup.sh"], cwd=REPOSITORY)
        if status != 0:
            raise RuntimeError(f"scripts/setup.sh failed:\n{output[-3000:]}")
        wall, cpu, status, output = timed(["bash", "scripts/test.sh", *args.pytest_args],
                                          echo=True, cwd=REPOSITORY)
        if args.reference:
            result["reference_after"] = reference_training(folder)
    lines = output.splitlines()
    passes = {match[1]: {"wall_s": int(match[2]), "exit_status": int(match[3])}
              for match in map(PASS_LINE.match, lines) if match}
    for match in filter(None, map(SUMMARY_LINE.match, lines)):
        passes.setdefault(match[1], {})["summary"] = match[2]
    result.update({"setup_wall_s": round(setup_wall, 1), "wall_s": round(wall, 1),
                   "command_wall_s": round(setup_wall + wall, 1), "cpu_s": round(cpu, 1),
                   "exit_status": status, "passes": passes})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))

    print("| run | wall | CPU | result |\n|---|---|---|---|")
    total = setup_wall + wall
    print(f"| the README's test command | {total:.0f} s ({total / 60:.1f} min) | | exit {status} |")
    print(f"| scripts/setup.sh | {setup_wall:.0f} s | | |")
    print(f"| scripts/test.sh | {wall:.0f} s | {cpu:.0f} s | |")
    for backend, figures in passes.items():
        print(f"| {backend} pass | {figures.get('wall_s', '?')} s | | "
              f"{figures.get('summary', '')} |")
    for moment in ("reference_before", "reference_after"):
        if moment in result:
            print(f"| {moment.replace('_', ' ')} | {result[moment]['wall_s']} s | "
                  f"{result[moment]['cpu_s']} s | |")
    print(f"wrote {args.output}")
    return status


if __name__ == "__main__":
    sys.exit(main())
