"""How long `glomo-keras --help` and every `glomo-keras <command> --help` take.

Each figure is the wall time of a fresh `python -m glomo_keras ... --help`
process: the median of `--runs` runs after one warm-up. With
`--baseline REPOSITORY` the same commands run against another checkout
(e.g. a `git worktree` of an older commit) in the same run, alternating, so
that both see the same machine load.

Run:

    git worktree add /tmp/glomo_before <commit>
    python benchmarks/cli_startup.py --baseline /tmp/glomo_before

Writes `benchmarks/results/cli_startup.json` and prints a table.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
COMMANDS = ([], ["data"], ["train"], ["export"], ["serve"], ["summary"], ["convert"],
            ["study", "ablations"], ["plot"], ["tune"])


def help_seconds(repository, command):
    """Wall seconds of one `python -m glomo_keras <command> --help` from `repository`."""
    environment = {**os.environ, "PYTHONPATH": str(repository)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "glomo_keras", *command, "--help"],
                   capture_output=True, check=True, env=environment, cwd=repository)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="counted runs per command (default 5)")
    parser.add_argument("--baseline", type=pathlib.Path,
                        help="another checkout to time the same way, alternating")
    parser.add_argument("--output", type=pathlib.Path,
                        default=REPOSITORY / "benchmarks" / "results" / "cli_startup.json")
    args = parser.parse_args()
    checkouts = {"current": REPOSITORY}
    if args.baseline:
        checkouts["baseline"] = args.baseline.resolve()
    rows = {}
    for command in COMMANDS:
        name = " ".join(["glomo-keras", *command, "--help"])
        times = {label: [] for label in checkouts}
        for label, repository in checkouts.items():
            help_seconds(repository, command)  # warm-up: file caches
        for _ in range(args.runs):
            for label, repository in checkouts.items():
                times[label].append(help_seconds(repository, command))
        rows[name] = {label: {"median_s": statistics.median(values), "min_s": min(values),
                              "max_s": max(values)} for label, values in times.items()}
        figures = "  ".join(f"{label} {rows[name][label]['median_s']:6.2f} s"
                            for label in checkouts)
        print(f"{name:<40} {figures}", flush=True)
    result = {"runs": args.runs, "machine": platform.processor() or platform.machine(),
              "cpus": os.cpu_count(), "load_average": os.getloadavg(),
              "checkouts": {label: str(path) for label, path in checkouts.items()},
              "commands": rows}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
