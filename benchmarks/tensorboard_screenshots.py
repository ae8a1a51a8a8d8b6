"""Screenshots of TensorBoard's dashboards for a run, with headless Chromium.

Trains a small demo run on the built-in sample (unless `--run` names a
finished one), plots it, starts `tensorboard --logdir RUN/logs` on
127.0.0.1 only, takes a screenshot of each dashboard (Scalars, Custom
Scalars, HParams, Text, Images) and stops TensorBoard. The PNGs go to
`docs/tensorboard/` (palette-quantised, to keep them small) and are shown
in `docs/tensorboard.md`.

Needs Chromium (`apt-get install -y chromium` on Debian) and Pillow.

Example:

```
python benchmarks/tensorboard_screenshots.py                  # demo run in /tmp
python benchmarks/tensorboard_screenshots.py --run runs/mosi  # an existing run
```
"""

import argparse
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]

# Dashboard name → the URL fragment that opens it and the window size.
DASHBOARDS = {
    "scalars": ("#scalars&_smoothingWeight=0&tagFilter=" + urllib.parse.quote(
        "^(train/loss|validation/(loss|mae|acc2_non0|f1_non0))$", safe=""), "1400,1000"),
    "custom_scalars": ("#custom_scalars&_smoothingWeight=0", "1400,1400"),
    "hparams": ("#hparams", "2300,640"),
    "text": ("#text", "1400,1000"),
    "images": ("#images", "1400,1000"),
}

DEMO_FLAGS = [
    "--dataset", "mosei", "--backbone", "random:bert_tiny", "--batch-size", "16",
    "--epochs", "6", "--seeds", "1", "2", "--set", "hidden_dim=16", "--set", "num_heads=2",
    "--set", "num_layers=1", "--set", "fusion_intermediate_dim=32",
    "--set", "max_sequence_length=48", "--set", "learning_rate=0.001", "--no-export",
]


def train_demo(folder):
    """Trains and plots the demo run on the built-in sample; returns its folder."""
    from glomo_keras.data import sample

    data = sample.write(folder / "sample.pkl")
    run = folder / "run"
    glomo = [sys.executable, "-m", "glomo_keras"]
    subprocess.run([*glomo, "train", "--data", str(data), "--output", str(run), *DEMO_FLAGS],
                   check=True, cwd=folder)
    subprocess.run([*glomo, "plot", str(run), "--max-points", "300"], check=True, cwd=folder)
    return run


def free_port():
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_tensorboard(logdir, port):
    """Starts TensorBoard on 127.0.0.1:`port` and waits until it answers."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir),
         "--host", "127.0.0.1", "--port", str(port), "--reload_interval", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/data/runs", timeout=5).read()
            return server
        except (urllib.error.URLError, ConnectionError):
            time.sleep(1)
    server.terminate()
    raise RuntimeError("TensorBoard did not start within 120 s")


def screenshot(chromium, url, path, size):
    """One headless-Chromium screenshot of `url`, palette-quantised to keep it small."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={profile}", f"--window-size={size}",
             "--virtual-time-budget=20000", f"--screenshot={path}", url],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180,
        )
    with Image.open(path) as image:
        image.convert("RGB").quantize(colors=128).save(path, optimize=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a finished run (default: train the demo run)")
    parser.add_argument("--output", default=str(REPOSITORY / "docs" / "tensorboard"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args(argv)
    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        run = pathlib.Path(args.run) if args.run else train_demo(pathlib.Path(work))
        port = free_port()
        server = start_tensorboard(run / "logs", port)
        try:
            for name, (fragment, size) in DASHBOARDS.items():
                path = output / f"{name}.png"
                screenshot(args.chromium, f"http://127.0.0.1:{port}/{fragment}", path, size)
                print(f"{path} ({path.stat().st_size // 1024} KB)")
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
