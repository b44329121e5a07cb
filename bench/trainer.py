"""Trainer benchmark: steps/s of our GradientTape loop against ``model.fit``, side by side.

Same model (``keras_rnn.LSTM`` + ``Dense(1)``), same data, same Adam; two settings:

- ``no clipping``: ``Trainer(clip_norm=None)`` vs ``model.fit``;
- ``clip 1.0``: ``Trainer(clip_norm=1.0)`` vs ``Adam(global_clipnorm=1.0)`` in ``model.fit``.

Our Trainer always measures the global gradient norm (it is logged every step). Each round
runs one epoch of each of the four, in an order that alternates between rounds; after a
warm-up epoch each (tracing), the figures are medians over rounds of steps/s (wall clock)
and of CPU time per step (steadier when the machine is shared). Both run
quiet (``verbose=0``). Results: ``bench/results/trainer.json`` and the "Trainer" section
of ``docs/benchmarks.md``.

    python -m bench.trainer            # B64 T50 F8 U64, 40 steps an epoch, 9 rounds
    python -m bench.trainer --quick    # 3 rounds of 10 steps; docs untouched
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import RESULTS, write_section

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.trainer", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 10 steps; no docs")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--time", type=int, default=50, help="sequence length")
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--steps", type=int, default=None, help="steps per epoch (timed unit)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--output", type=Path, default=RESULTS / "trainer.json")
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args(argv)
    for flag in ("batch", "time", "features", "units", "steps", "rounds"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f"argument --{flag}: expected a positive integer, got {value}")
    args.steps = args.steps or (10 if args.quick else 40)
    args.rounds = args.rounds or (3 if args.quick else 9)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import keras
    import numpy as np
    import tensorflow as tf

    import keras_rnn
    from keras_rnn.training import Trainer

    rng = np.random.default_rng(0)
    n = args.batch * args.steps
    x = rng.normal(size=(n, args.time, args.features)).astype("float32")
    y = x[:, -5:, 0].sum(axis=1, keepdims=True).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch).cache().prefetch(2)

    def build() -> keras.Model:
        keras.utils.set_random_seed(0)
        return keras.Sequential(
            [
                keras.Input((args.time, args.features)),
                keras_rnn.LSTM(args.units),
                keras.layers.Dense(1),
            ]
        )

    def ours(clip: float | None) -> Callable[[], None]:
        trainer = Trainer(build(), "mse", keras.optimizers.Adam(1e-3), clip_norm=clip, verbose=0)
        return lambda: trainer.fit(ds, epochs=1)

    def keras_fit(clip: float | None) -> Callable[[], None]:
        model = build()
        model.compile(optimizer=keras.optimizers.Adam(1e-3, global_clipnorm=clip), loss="mse")
        return lambda: model.fit(ds, epochs=1, verbose=0, shuffle=False)

    runs = {
        ("no clipping", "Trainer"): ours(None),
        ("no clipping", "model.fit"): keras_fit(None),
        ("clip 1.0", "Trainer"): ours(1.0),
        ("clip 1.0", "model.fit"): keras_fit(1.0),
    }
    for run in runs.values():  # trace and warm up
        run()
    # Wall-clock steps/s, and CPU seconds per step (this process, all threads): on a shared
    # machine other processes stretch wall time at random; CPU time is what the work costs.
    rates: dict[tuple[str, str], list[float]] = {key: [] for key in runs}
    cpu_ms: dict[tuple[str, str], list[float]] = {key: [] for key in runs}
    order = list(runs)
    for round_index in range(args.rounds):
        for key in order if round_index % 2 == 0 else reversed(order):
            wall, cpu = time.perf_counter(), time.process_time()
            runs[key]()
            cpu_ms[key].append(1000 * (time.process_time() - cpu) / args.steps)
            rates[key].append(args.steps / (time.perf_counter() - wall))
        print(f"round {round_index + 1}/{args.rounds} done", flush=True)

    results = []
    for setting in ("no clipping", "clip 1.0"):
        ours, fit = (setting, "Trainer"), (setting, "model.fit")
        results.append(
            {
                "setting": setting,
                "trainer_steps_per_s": statistics.median(rates[ours]),
                "fit_steps_per_s": statistics.median(rates[fit]),
                # extra time per step, relative to model.fit
                "overhead_wall": statistics.median(rates[fit]) / statistics.median(rates[ours])
                - 1.0,
                "trainer_cpu_ms_per_step": statistics.median(cpu_ms[ours]),
                "fit_cpu_ms_per_step": statistics.median(cpu_ms[fit]),
                "overhead_cpu": statistics.median(cpu_ms[ours]) / statistics.median(cpu_ms[fit])
                - 1.0,
                "trainer_rounds_steps_per_s": rates[ours],
                "fit_rounds_steps_per_s": rates[fit],
                "trainer_rounds_cpu_ms": cpu_ms[ours],
                "fit_rounds_cpu_ms": cpu_ms[fit],
            }
        )
    record = {
        "benchmark": "trainer",
        "config": {
            k: getattr(args, k) for k in ("batch", "time", "features", "units", "steps", "rounds")
        },
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "devices": [d.name for d in tf.config.list_logical_devices()],
            "load_average": os.getloadavg(),
        },
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results,
    }
    table = render(record)
    print(table)
    if not args.quick:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(record, indent=2) + "\n")
        print(f"results written to {args.output}")
        if not args.no_docs:
            print(f"table written to {write_section('Trainer', table)}")
    return 0


def render(record: dict) -> str:
    c = record["config"]
    m = record["machine"]
    lines = [
        f"`python -m bench.trainer` ({record['created']}): steps/s of "
        "`keras_rnn.training.Trainer` against `model.fit` on the same `keras_rnn.LSTM` "
        f"model (B{c['batch']} T{c['time']} F{c['features']} U{c['units']}, Adam), "
        f"{c['steps']} steps an epoch, median of {c['rounds']} interleaved rounds, "
        f"{m['cpus']} CPUs, load average at the end {m['load_average'][0]:.1f}. "
        "Overhead = extra time per step of the Trainer relative to `model.fit` "
        "(target: <= 5%; negative means faster), from wall-clock steps/s and from CPU time "
        "per step (all threads of the process; steadier than wall time on a shared machine).",
        "",
        "| setting | Trainer steps/s | model.fit steps/s | overhead (wall) "
        "| Trainer CPU ms/step | model.fit CPU ms/step | overhead (CPU) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in record["results"]:
        lines.append(
            f"| {r['setting']} | {r['trainer_steps_per_s']:.1f} | {r['fit_steps_per_s']:.1f} "
            f"| {r['overhead_wall'] * 100:+.1f}% | {r['trainer_cpu_ms_per_step']:.1f} "
            f"| {r['fit_cpu_ms_per_step']:.1f} | {r['overhead_cpu'] * 100:+.1f}% |"
        )
    wall = [
        v
        for r in record["results"]
        for v in (*r["trainer_rounds_steps_per_s"], *r["fit_rounds_steps_per_s"])
    ]
    cpu = [
        v for r in record["results"] for v in (*r["trainer_rounds_cpu_ms"], *r["fit_rounds_cpu_ms"])
    ]
    lines += [
        "",
        f"Spread of single rounds: wall clock {min(wall):.1f}-{max(wall):.1f} steps/s "
        f"({max(wall) / min(wall):.1f}x), CPU time {min(cpu):.1f}-{max(cpu):.1f} ms/step "
        f"({max(cpu) / min(cpu):.2f}x). Where the wall-clock spread is large the machine was "
        "shared and the CPU-time overhead is the figure to trust.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
