"""Load test of `glomo-keras serve`: length-aware serving, batching, back-pressure, SIGTERM.

Builds the models first, so that it needs no earlier run: GLoMo with the
MOSEI configuration (T = 60 by default, MOSI's T; `--sequence-length`) on
the offline `minilm` backbone (all-MiniLM-L6-v2 weights), UNTRAINED (random
GLoMo weights: the cost of a request does not depend on training), fitted
to the built-in MOSEI-layout sample and exported as float32 SavedModels
twice: `padded`, with `length_aware=False` (today's default: every batch
padded to T), the baseline; and `length_aware`, with `length_aware=True`
(a batch padded to its longest utterance, rounded up to a multiple of 8).

Length comparison, each figure also as a ratio to the padded baseline of
the same run:

- the `analyze` SavedModel called in this process, batch 1: p50/p99 of
  one utterance filling T and of 15-word utterances (the sample's
  utterances cycled to 15 words, a MOSI-like length);
- the server, per model: the same two at concurrency 1, and the sample's
  test utterances (13.7 words on average) one a request at concurrency 16
  (throughput) and 64 (p99).

Then, on the `length_aware` server (`--model DIR` serves an existing
export instead and skips the comparison), with closed-loop clients on
loopback (each sends its next request as soon as it
has its answer; keep-alive connections; after a 503, once its Retry-After
has passed), counting what completes in `--seconds` after a 3 s warm-up:

- `:analyze` with 1 utterance a request at concurrency 1, 4, 16, 64;
- 16 utterances a request at concurrency 1, 16 and 64 (overload goodput:
  the utterances answered per second against concurrency 1);
- a burst: 200 connections opened at once, one request each;
- one request of 5,000 small utterances: its answer, and how much the
  server's peak resident memory (`VmHWM`) grew for it;
- SIGTERM while requests are in flight: are they all answered, exit code.

Utterances come from the sample's test split (non-finite values set to 0).
Each answer is compared with the same utterance's answer computed alone
(max abs difference) and, for the length-aware model, with the Keras
model's answer padded to T. Prints tables and writes JSON with the CPU's
model and vector flags.

Usage:

```
python benchmarks/serving_load.py [--output benchmarks/results/serving_load.json]
    [--seconds 10] [--sequence-length 60] [--model saved_models/mosei]
    [--serve-args "--max-batch-size 16"]
```
"""

import argparse
import asyncio
import http.client
import json
import os
import pathlib
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

CLIENT_TIMEOUT_S = 30.0
WARM_UP_S = 3.0
BURST_CONNECTIONS = 200
SEQUENCE_LENGTH = 60
MOSI_LIKE_WORDS = 15
SAVED_MODEL_CALLS = 100
# The baseline first: (name, length_aware).
MODELS = (("padded", False), ("length_aware", True))
# The server's batch-1 latency loads (concurrency 1): (name, utterances).
LATENCY_LOADS = (("batch 1 at T, concurrency 1", "at_T"),
                 ("batch 1 of 15 words, concurrency 1", "15_words"))
# Issue 19's goals: today's single-request throughput at concurrency 16.
TODAY_C16_UTTERANCES_PER_S = 53.0


def log(message):
    """One progress line on stderr."""
    print(f"[serving_load {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_average():
    """The 1-minute load average (contention from other processes)."""
    return round(os.getloadavg()[0], 2)


def cpu_description():
    """The CPU's model name and its vector flags (AVX, AVX-512, AMX, FMA), from /proc/cpuinfo."""
    model, flags = platform.processor(), []
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name":
                model = value.strip()
            elif name.strip() == "flags":
                flags = sorted(flag for flag in value.split()
                               if flag.startswith(("avx", "amx", "fma", "f16c")))
                break
    except OSError:
        pass
    return {"model": model, "flags": flags}


def build_models(folder, sequence_length, instances):
    """Exports the `MODELS` (untrained MOSEI GLoMo on MiniLM, fitted to the sample).

    Both get the same random weights (same seed). Returns `({name: version
    folder}, the length-aware model's predictions of `instances` padded to T)`.
    """
    import keras

    from glomo_keras import GLoMo, GLoMoConfig
    from glomo_keras.backbones import load_backbone
    from glomo_keras.data import sample
    from glomo_keras.export import export_saved_model
    from glomo_keras.training.trainer import prepare_data

    _, tokenizer = load_backbone("minilm")
    sample_path = sample.write(pathlib.Path(folder) / "sample.pkl")
    config = GLoMoConfig.for_dataset("mosei", max_sequence_length=sequence_length)
    config, data = prepare_data(config, sample_path, tokenizer, use_cache=False)
    exports = {}
    for name, length_aware in MODELS:
        keras.utils.set_random_seed(1)
        backbone, _ = load_backbone("minilm")
        model = GLoMo(config.replace(length_aware=length_aware), backbone)
        exports[name] = export_saved_model(
            model, data.preprocessor, pathlib.Path(folder) / name,
            metadata={"benchmark": f"untrained, serving_load.py, length_aware={length_aware}"})
    encoded = data.preprocessor.encode(instances)
    padded = model.predict(encoded, batch_size=16, verbose=0)["prediction"][:, 0]
    return exports, padded


def cycled(instance, words):
    """The utterance's words (and rows) repeated or cut to exactly `words` words."""
    count = len(instance["words"])
    rows = [index % count for index in range(words)]
    return {field: [instance[field][row] for row in rows]
            for field in ("words", "acoustic", "visual")}


def saved_model_latencies(exports, utterance_sets, calls=SAVED_MODEL_CALLS):
    """{model: {set: p50/p99 seconds}} of the `analyze` SavedModels called with one utterance.

    In this process, interleaved (one call of each model and set in turn),
    so that the load of a shared machine weighs on every figure alike.
    """
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the tokenizer's ops)

    from glomo_keras.serving import Predictor

    runs = {}
    for name, folder in exports.items():
        predictor = Predictor(folder)
        analyze = tf.saved_model.load(str(folder / "analyze")).signatures["analyze"]
        for label, instances in utterance_sets.items():
            inputs = [{key: tf.constant(value.astype(str) if value.dtype == object else value)
                       for key, value in predictor.encode_instances([instance]).items()}
                      for instance in instances]
            for tensors in inputs[:5]:
                analyze(**tensors)  # warm-up
            runs[name, label] = (analyze, inputs, [])
    for index in range(calls):
        for analyze, inputs, seconds in runs.values():
            start = time.perf_counter()
            analyze(**inputs[index % len(inputs)])
            seconds.append(time.perf_counter() - start)
    rows = {}
    for (name, label), (_, _, seconds) in runs.items():
        rows.setdefault(name, {})[label] = {"calls": calls, "p50_s": percentile(seconds, 50),
                                            "p99_s": percentile(seconds, 99)}
        log(f"SavedModel {name}, {label}: p50 {percentile(seconds, 50):.4f} s, "
            f"p99 {percentile(seconds, 99):.4f} s")
    return rows


def utterances(count=200):
    """`:analyze` instances from the sample's test split, non-finite values set to 0."""
    from glomo_keras.data import sample

    items = sample.build()["test"][:count]
    result = []
    for (words, visual, acoustic), _, _ in items:
        result.append({
            "words": list(words),
            "acoustic": np.nan_to_num(np.asarray(acoustic), nan=0, posinf=0, neginf=0).tolist(),
            "visual": np.nan_to_num(np.asarray(visual), nan=0, posinf=0, neginf=0).tolist(),
        })
    return result


class Server:
    """`glomo-keras serve` in a subprocess on a free port."""

    def __init__(self, model, extra_args, log_path):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "glomo_keras", "serve", "--model", str(model),
             "--port", "0", "--name", "mosei", *extra_args],
            stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=ROOT,
        )
        line = self.process.stdout.readline()
        if " at http" not in line:
            self.process.kill()
            raise SystemExit(f"the server did not start: {line!r}; see {log_path}")
        self.url = line.split(" at ")[-1].strip()
        parts = urllib.parse.urlsplit(self.url)
        self.host, self.port, self.path = parts.hostname, parts.port, parts.path

    def log_size(self):
        return self.log_path.stat().st_size

    def logged_seconds(self, offset, end):
        """{status: [server-side seconds]} of the access log lines between two offsets."""
        seconds = {}
        with open(self.log_path, "rb") as file:
            file.seek(offset)
            for line in file.read(end - offset).splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # not an access log line
                if isinstance(record, dict) and "status" in record and "ms" in record:
                    seconds.setdefault(record["status"], []).append(record["ms"] / 1000)
        return seconds

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


class Connection:
    """One keep-alive HTTP/1.1 client connection (asyncio), as a load generator needs."""

    def __init__(self, server):
        self.server = server
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.server.host,
                                                                 self.server.port)

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(self, path, body):
        """(status, answer bytes, seconds, Retry-After seconds) of one POST."""
        start = time.perf_counter()
        if self.writer is None:
            await self.open()
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.server.host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection")
        headers = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        data = await self.reader.readexactly(int(headers.get("content-length", 0)))
        if headers.get("connection", "").lower() == "close":
            self.close()
        retry_after = float(headers.get("retry-after", 0))
        return int(status_line.split()[1]), data, time.perf_counter() - start, retry_after


def post_once(server, body):
    """(status, answer bytes) of one request on its own connection (http.client)."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=CLIENT_TIMEOUT_S)
    try:
        connection.request("POST", server.path + ":analyze", body,
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def metrics_sample(server):
    """(batches, instances batched) from the server's metrics, or None."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request("GET", "/monitoring/prometheus/metrics")
        response = connection.getresponse()
        text = response.read().decode()
        if response.status != 200:
            return None
    except OSError:
        return None
    finally:
        connection.close()
    values = {}
    for line in text.splitlines():
        for name in ("glomo_serving_batch_size_count", "glomo_serving_batch_size_sum"):
            if line.startswith(name + " "):
                values[name] = float(line.split()[1])
    if len(values) < 2:
        return None
    return values["glomo_serving_batch_size_count"], values["glomo_serving_batch_size_sum"]


class Recorder:
    """Answers of one phase: latencies by status, and answers per utterance."""

    def __init__(self):
        self.latencies = {}
        self.timeouts = 0
        self.failures = []
        self.answers = {}

    def add_error(self, error):
        if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
            self.timeouts += 1
        else:
            self.failures.append(f"{type(error).__name__}: {error}")

    def add(self, status, seconds, first, data):
        self.latencies.setdefault(status, []).append(seconds)
        if status == 200:
            predictions = json.loads(data)["predictions"]
            for offset, prediction in enumerate(predictions):
                self.answers.setdefault(first + offset, []).append(prediction["sentiment"])


async def closed_loop(server, bodies, per_request, concurrency, warm, seconds, recorder):
    """`concurrency` clients, each sending its next request once answered.

    They run for `warm` + `seconds`; only what completes in the last
    `seconds` (the steady state) is recorded. A client that gets a 503 waits
    the `Retry-After` seconds it names. Returns `(snapshot at the window's
    start, snapshot at its end)` of `server_snapshot`.
    """
    loop = asyncio.get_running_loop()
    start = time.perf_counter() + warm
    deadline = start + seconds

    async def client(index):
        connection = Connection(server)
        position = index
        while time.perf_counter() < deadline:
            first = (position * per_request) % len(bodies)
            try:
                status, data, elapsed, retry_after = await asyncio.wait_for(
                    connection.post(server.path + ":analyze", bodies[first]), CLIENT_TIMEOUT_S)
                if start <= time.perf_counter() <= deadline:
                    recorder.add(status, elapsed, first, data)
                if status == 503:
                    await asyncio.sleep(min(retry_after, max(0.0, deadline - time.perf_counter())))
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as error:
                if start <= time.perf_counter() <= deadline:
                    recorder.add_error(error)
                connection.close()
            position += concurrency
        connection.close()

    async def snapshot(at):
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        return await loop.run_in_executor(None, server_snapshot, server)

    snapshots = asyncio.gather(snapshot(start), snapshot(deadline))
    await asyncio.gather(*(client(index) for index in range(concurrency)))
    return await snapshots


def server_snapshot(server):
    """(access log size, batch metrics) of the server now."""
    return server.log_size(), metrics_sample(server)


def percentile(values, q):
    return float(np.percentile(values, q)) if values else None


def summarise(name, recorder, seconds, per_request, batches):
    ok = recorder.latencies.get(200, [])
    busy = recorder.latencies.get(503, [])
    others = {str(status): len(values) for status, values in recorder.latencies.items()
              if status not in (200, 503)}
    return {
        "load": name,
        "answered": len(ok),
        "answered_per_s": len(ok) / seconds,
        "utterances_per_s": len(ok) * per_request / seconds,
        "p50_s": percentile(ok, 50),
        "p99_s": percentile(ok, 99),
        "max_s": max(ok) if ok else None,
        "busy_503": len(busy),
        "busy_503_p99_s": percentile(busy, 99),
        "busy_503_max_s": max(busy) if busy else None,
        "timeouts": recorder.timeouts,
        "other_statuses": others,
        "failures": len(recorder.failures),
        "failure_examples": recorder.failures[:3],
        "mean_batch_size": batches,
        "load_average": load_average(),
    }


def run_phase(server, instances, per_request, concurrency, seconds, references, name=None):
    bodies = [
        json.dumps({"instances": [instances[(first + k) % len(instances)]
                                  for k in range(per_request)]}).encode()
        for first in range(len(instances))
    ]
    recorder = Recorder()
    (offset, before), (end, after) = asyncio.run(closed_loop(
        server, bodies, per_request, concurrency, WARM_UP_S, seconds, recorder))
    logged = server.logged_seconds(offset, end)
    batches = None
    if before and after and after[0] > before[0]:
        batches = (after[1] - before[1]) / (after[0] - before[0])
    plural = "s" if per_request > 1 else ""
    name = name or f"{per_request} utterance{plural} a request, concurrency {concurrency}"
    row = summarise(name, recorder, seconds, per_request, batches)
    differences = [
        abs(value - references[index % len(instances)])
        for index, values in recorder.answers.items() for value in values
        if index % len(instances) in references
    ]
    row["max_abs_difference_vs_alone"] = max(differences) if differences else None
    row["server_p99_s"] = percentile(logged.get(200, []), 99)
    row["server_busy_503_max_s"] = max(logged[503]) if logged.get(503) else None
    log(f"{name}: {row['utterances_per_s']:.1f} utterances/s, p50 {row['p50_s']}, "
        f"p99 {row['p99_s']}, 503 {row['busy_503']}, timeouts {row['timeouts']}, "
        f"load {row['load_average']}")
    return row


def reference_answers(server, instances, count=40):
    """Each of the first `count` utterances answered alone, one at a time."""
    references = {}
    for index in range(count):
        status, data = post_once(server, json.dumps({"instances": [instances[index]]}).encode())
        if status != 200:
            raise SystemExit(f"utterance {index} alone: {status} {data[:300]!r}")
        references[index] = json.loads(data)["predictions"][0]["sentiment"]
    return references


async def burst(server, instances, connections=BURST_CONNECTIONS):
    """`connections` clients connect at once and send one request each."""

    async def client(index):
        body = json.dumps({"instances": [instances[index % len(instances)]]}).encode()
        connection = Connection(server)
        start = time.perf_counter()
        record = {"connect_s": None, "status": None}
        try:
            await asyncio.wait_for(connection.open(), CLIENT_TIMEOUT_S)
            record["connect_s"] = time.perf_counter() - start
            status, _, _, _ = await asyncio.wait_for(
                connection.post(server.path + ":analyze", body), CLIENT_TIMEOUT_S)
            record["status"] = status
        except asyncio.TimeoutError:
            record["status"] = "timeout"
        except (OSError, asyncio.IncompleteReadError) as error:
            record["status"] = type(error).__name__
        record["total_s"] = time.perf_counter() - start
        connection.close()
        return record

    results = await asyncio.gather(*(client(index) for index in range(connections)))
    statuses = {}
    for record in results:
        statuses[str(record["status"])] = statuses.get(str(record["status"]), 0) + 1
    connects = [r["connect_s"] for r in results if r["connect_s"] is not None]
    totals = [r["total_s"] for r in results]
    row = {
        "connections": connections,
        "statuses": statuses,
        "connected": len(connects),
        "connect_max_s": max(connects) if connects else None,
        "last_answer_s": max(totals),
        "answered_or_503": statuses.get("200", 0) + statuses.get("503", 0),
        "load_average": load_average(),
    }
    log(f"burst of {connections}: {statuses}, connect max {row['connect_max_s']:.3f} s, "
        f"last answer {row['last_answer_s']:.2f} s")
    return row


def peak_rss_mib(pid):
    """The peak resident memory (`VmHWM`) of process `pid`, in MiB."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def huge_request(server, count=5000):
    """One `:analyze` request of `count` one-word utterances: status and peak RSS growth."""
    instance = {"words": ["good"], "acoustic": [[0.5] * 74], "visual": [[0.5] * 35]}
    body = json.dumps({"instances": [instance] * count}).encode()
    before = peak_rss_mib(server.process.pid)
    start = time.perf_counter()
    status, data = post_once(server, body)
    seconds = time.perf_counter() - start
    row = {"instances": count, "bytes": len(body), "status": status, "seconds": seconds,
           "answer": data[:200].decode("utf-8", "replace"),
           "peak_rss_growth_mib": peak_rss_mib(server.process.pid) - before}
    log(f"one request of {count} utterances: {status} in {seconds:.3f} s, "
        f"peak RSS +{row['peak_rss_growth_mib']:.1f} MiB")
    return row


async def sigterm_in_flight(server, instances, requests=32):
    """Sends `requests` concurrent requests, SIGTERM 0.1 s later; are all answered?"""
    connections = [Connection(server) for _ in range(requests)]
    await asyncio.gather(*(connection.open() for connection in connections))

    async def client(index):
        body = json.dumps({"instances": [instances[index % len(instances)]]}).encode()
        try:
            status, _, _, _ = await asyncio.wait_for(
                connections[index].post(server.path + ":analyze", body), CLIENT_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as error:
            status = type(error).__name__
        connections[index].close()
        return status, time.perf_counter()

    tasks = [asyncio.ensure_future(client(index)) for index in range(requests)]
    await asyncio.sleep(0.1)
    signalled = time.perf_counter()
    server.process.send_signal(signal.SIGTERM)
    results = await asyncio.gather(*tasks)
    loop = asyncio.get_running_loop()
    try:
        code = await loop.run_in_executor(None, server.process.wait, 60)
    except subprocess.TimeoutExpired:
        server.process.kill()
        code = "did not exit in 60 s"
    exited = time.perf_counter()
    statuses = {}
    for status, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    row = {
        "requests": requests,
        "statuses": statuses,
        "answered_after_sigterm": sum(1 for status, at in results
                                      if status == 200 and at > signalled),
        "exit_code": code,
        "exit_after_s": exited - signalled,
    }
    log(f"SIGTERM with {requests} in flight: {statuses}, "
        f"{row['answered_after_sigterm']} answered after the signal, exit {code} "
        f"after {row['exit_after_s']:.2f} s")
    return row


def check_targets(phases, burst_row, sigterm_row):
    """The issue's "done when" figures, each with the measured value."""
    by_name = {row["load"]: row for row in phases}
    c16 = by_name.get("1 utterance a request, concurrency 16")
    c64 = by_name.get("1 utterance a request, concurrency 64")
    batched = by_name.get("16 utterances a request, concurrency 1")
    targets = {}
    if c16 and batched:
        targets["c16 >= 65 utterances/s"] = [round(c16["utterances_per_s"], 1),
                                             c16["utterances_per_s"] >= 65]
        ratio = c16["utterances_per_s"] / batched["utterances_per_s"]
        targets["c16 >= 0.9x one client of 16-utterance requests"] = [round(ratio, 2),
                                                                      ratio >= 0.9]
        targets["c16 p99 <= 0.6 s"] = [c16["p99_s"], (c16["p99_s"] or 99) <= 0.6]
    for concurrency in (16, 64):
        loaded = by_name.get(f"16 utterances a request, concurrency {concurrency}")
        if loaded and batched:
            ratio = loaded["utterances_per_s"] / batched["utterances_per_s"]
            targets[f"16-utterance requests at c{concurrency} >= 0.9x c1 (goodput)"] = [
                round(ratio, 2), ratio >= 0.9]
    if c64:
        targets["c64 p99 <= 2 s"] = [c64["p99_s"], (c64["p99_s"] or 99) <= 2]
        busy = [row["busy_503_max_s"] for row in phases
                if row["load"].endswith("concurrency 64") and row["busy_503"]]
        targets["c64 (1 and 16 utterances) 503s within 100 ms"] = [
            max(busy) if busy else "no 503", not busy or max(busy) <= 0.1]
        targets["c64 0 timeouts"] = [c64["timeouts"], c64["timeouts"] == 0]
    targets["burst: all connected within 1 s"] = [
        burst_row["connect_max_s"],
        burst_row["connected"] == burst_row["connections"]
        and burst_row["connect_max_s"] <= 1.0,
    ]
    targets["burst: all answered or 503 within 10 s"] = [
        burst_row["last_answer_s"],
        burst_row["answered_or_503"] == burst_row["connections"]
        and burst_row["last_answer_s"] <= 10,
    ]
    targets["SIGTERM: all in flight answered, exit 0"] = [
        sigterm_row["statuses"], sigterm_row["statuses"] == {"200": sigterm_row["requests"]}
        and sigterm_row["exit_code"] == 0,
    ]
    return targets


def print_table(phases, burst_row, sigterm_row, targets):
    print(f"{'load':<46}{'answered/s':>11}{'utt/s':>8}{'p50 s':>8}{'p99 s':>8}"
          f"{'503':>6}{'503 max s':>10}{'(server)':>9}{'timeouts':>9}{'batch':>7}{'load':>6}")
    for row in phases:
        batch = "" if row["mean_batch_size"] is None else f"{row['mean_batch_size']:.1f}"
        busy_max = "" if row["busy_503_max_s"] is None else f"{row['busy_503_max_s']:.3f}"
        server_max = ("" if row["server_busy_503_max_s"] is None
                      else f"{row['server_busy_503_max_s']:.3f}")
        print(f"{row['load']:<46}{row['answered_per_s']:>11.1f}{row['utterances_per_s']:>8.1f}"
              f"{row['p50_s'] or 0:>8.3f}{row['p99_s'] or 0:>8.3f}{row['busy_503']:>6}"
              f"{busy_max:>10}{server_max:>9}{row['timeouts']:>9}{batch:>7}"
              f"{row['load_average']:>6}")
    print(f"burst of {burst_row['connections']} connections: {burst_row['statuses']}, "
          f"slowest connect {burst_row['connect_max_s']:.3f} s, last answer "
          f"{burst_row['last_answer_s']:.2f} s")
    print(f"SIGTERM with {sigterm_row['requests']} requests in flight: {sigterm_row['statuses']}, "
          f"exit code {sigterm_row['exit_code']} after {sigterm_row['exit_after_s']:.2f} s")
    for name, (value, met) in targets.items():
        print(f"  {'met ' if met else 'MISS'}  {name}: {value}")


def comparison_figures(saved_models, server_rows):
    """{figure: {"padded", "length_aware", "ratio"}}: the length comparison of the module doc."""
    figures = {}
    for model, rows in saved_models.items():
        for length, row in rows.items():
            for stat in ("p50_s", "p99_s"):
                figures.setdefault(f"SavedModel batch 1, {length}, {stat}", {})[model] = row[stat]
    picks = [(label, stat) for label, _ in LATENCY_LOADS for stat in ("p50_s", "p99_s")]
    picks += [(f"1 utterance a request, concurrency {concurrency}", stat)
              for concurrency in (16, 64) for stat in ("utterances_per_s", "p99_s")]
    for model, rows in server_rows.items():
        by_name = {row["load"]: row for row in rows}
        for load, stat in picks:
            figures.setdefault(f"server: {load}, {stat}", {})[model] = by_name[load][stat]
    for values in figures.values():
        padded, aware = values.get("padded"), values.get("length_aware")
        values["ratio"] = aware / padded if padded and aware is not None else None
    return figures


def comparison_goals(figures):
    """Issue 19's serving goals, each with the measured value."""
    latency = figures["SavedModel batch 1, 15_words, p50_s"]["length_aware"]
    c16 = figures["server: 1 utterance a request, concurrency 16, utterances_per_s"]
    c64 = figures["server: 1 utterance a request, concurrency 64, p99_s"]["length_aware"]
    return {
        "SavedModel batch-1 p50, 15 words, length_aware <= 25 ms": [latency, latency <= 0.025],
        f"c16 >= 2x today's {TODAY_C16_UTTERANCES_PER_S:g} utterances/s": [
            c16["length_aware"], c16["length_aware"] >= 2 * TODAY_C16_UTTERANCES_PER_S],
        "c16 >= 2x the padded baseline of this run": [c16["ratio"], c16["ratio"] >= 2],
        "c64 p99 <= 1 s": [c64, (c64 or 99) <= 1.0],
    }


def print_comparison(figures, goals):
    def shown(value, digits):
        return "" if value is None else f"{value:.{digits}f}"

    print(f"{'figure (seconds; utterances/s)':<64}{'padded':>10}{'length-aware':>13}"
          f"{'ratio':>7}")
    for name, values in figures.items():
        print(f"{name:<64}{shown(values['padded'], 4):>10}"
              f"{shown(values['length_aware'], 4):>13}{shown(values['ratio'], 2):>7}")
    for name, (value, met) in goals.items():
        print(f"  {'met ' if met else 'MISS'}  {name}: {value}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=str(ROOT / "benchmarks/results/serving_load.json"))
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="seconds each closed-loop load runs (default 10)")
    parser.add_argument("--sequence-length", type=int, default=SEQUENCE_LENGTH,
                        help=f"T of the built models (default {SEQUENCE_LENGTH})")
    parser.add_argument("--model", default=None,
                        help="serve this export instead of building the benchmark models "
                             "(no length comparison)")
    parser.add_argument("--serve-args", default="",
                        help="extra flags of glomo-keras serve, e.g. '--max-batch-size 32'")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    load_before = load_average()
    instances = utterances()
    at_t = [cycled(instance, args.sequence_length) for instance in instances[:20]]
    mosi_like = [cycled(instance, MOSI_LIKE_WORDS) for instance in instances[:40]]
    saved_models, server_rows, difference_vs_padded = {}, {}, None
    with tempfile.TemporaryDirectory(prefix="serving_load_") as folder:
        if args.model:
            served = {"served": args.model}
            how = f"the export {args.model}"
        else:
            log(f"building the models: MOSEI config (T {args.sequence_length}), minilm "
                "backbone, untrained, exported (length_aware False and True)")
            exports, padded_answers = build_models(folder, args.sequence_length, instances)
            served = {name: exports[name].parent for name, _ in MODELS}
            how = (f"GLoMo, MOSEI configuration with T = {args.sequence_length}, minilm backbone "
                   "(all-MiniLM-L6-v2 weights), GLoMo layers untrained, fitted to the built-in "
                   "MOSEI-layout sample and exported in float32, with length_aware=False "
                   "(padded, the baseline) and True (length_aware), the same weights")
            saved_models = saved_model_latencies(
                {name: exports[name] for name, _ in MODELS},
                {"at_T": at_t, "15_words": mosi_like})
        for name, model in served.items():
            server = Server(model, shlex.split(args.serve_args),
                            pathlib.Path(folder) / f"access_{name}.log")
            log(f"serving {name} at {server.url}")
            try:
                references = reference_answers(server, instances)
                if name == "length_aware":
                    difference_vs_padded = max(
                        float(abs(references[index] - padded_answers[index]))
                        for index in references)
                rows = []
                if name != "served":
                    for label, chosen in LATENCY_LOADS:
                        rows.append(run_phase(server, {"at_T": at_t, "15_words": mosi_like}[chosen],
                                              1, 1, args.seconds, {}, name=label))
                concurrencies = (16, 64) if name != "served" else (1, 4, 16, 64)
                for concurrency in concurrencies:
                    rows.append(run_phase(server, instances, 1, concurrency, args.seconds,
                                          references))
                server_rows[name] = rows
                if name == "padded":
                    continue
                phases = [row for row in rows if not row["load"].startswith("batch 1")]
                if name != "served":
                    phases.append(run_phase(server, instances, 1, 4, args.seconds, references))
                for concurrency in (1, 16, 64):
                    phases.append(run_phase(server, instances, 16, concurrency, args.seconds,
                                            references))
                burst_row = asyncio.run(burst(server, instances))
                time.sleep(1.0)
                huge_row = huge_request(server)
                sigterm_row = asyncio.run(sigterm_in_flight(server, instances))
            finally:
                server.stop()
    targets = check_targets(phases, burst_row, sigterm_row)
    figures = comparison_figures(saved_models, server_rows) if saved_models else {}
    goals = comparison_goals(figures) if figures else {}
    results = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "cpu": cpu_description(),
                    "load_average_before": load_before, "load_average_after": load_average()},
        "model": how,
        "serve_args": args.serve_args,
        "seconds_per_load": args.seconds,
        "client": "closed loop on loopback: asyncio clients in one thread, one keep-alive "
                  "connection each, the next request as soon as an answer arrives (after a "
                  "503, once the Retry-After seconds have passed); answers counted when "
                  f"they complete in the {args.seconds} s after a {WARM_UP_S} s warm-up",
        "length_comparison": {
            "saved_model_batch_1": saved_models,
            "server": server_rows,
            "figures": figures,
            "goals": goals,
            "utterances": {"at_T": f"{len(at_t)} sample utterances cycled to "
                                   f"{args.sequence_length} words (cut to T)",
                           "15_words": f"{len(mosi_like)} sample utterances cycled to "
                                       f"{MOSI_LIKE_WORDS} words",
                           "concurrency": "the sample's 200 test utterances, 13.7 words "
                                          "on average"},
            "length_aware_alone_vs_padded_to_T_max_abs_difference": difference_vs_padded,
        },
        "phases": phases,
        "burst": burst_row,
        "huge_request": huge_row,
        "sigterm": sigterm_row,
        "targets": targets,
        "wall_s": time.perf_counter() - started,
    }
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"model: {how}")
    if figures:
        print_comparison(figures, goals)
        print(f"length_aware answers alone vs the Keras model padded to T: max abs difference "
              f"{difference_vs_padded:.2e}")
    print_table(phases, burst_row, sigterm_row, targets)
    print(f"one request of {huge_row['instances']} utterances ({huge_row['bytes']} bytes): "
          f"{huge_row['status']} in {huge_row['seconds']:.3f} s, server peak RSS "
          f"+{huge_row['peak_rss_growth_mib']:.1f} MiB")
    print(f"written to {output} ({results['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
