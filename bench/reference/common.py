"""What the PyTorch eager references of `cargo xtask bench` share: their command line, MNIST
from the files gan-rs reads, and the timing (warm-up, then the median steps/s of the repeats,
printed as one JSON object)."""

import argparse
import gzip
import json
import os
import statistics
import time
import warnings

# The wheel runs without NumPy; torch only warns that it could not find it.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import torch  # noqa: E402


def arguments(presets, default_preset, default_batch):
    """Parses the flags every reference takes and applies the thread count and the seed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", choices=presets, default=default_preset)
    parser.add_argument("--batch-size", type=int, default=default_batch)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    return args


def _read(data_dir, name):
    path = os.path.join(data_dir, name + ".gz")
    if os.path.exists(path):
        return gzip.open(path, "rb").read()
    return open(path[:-3], "rb").read()


def load_images(data_dir):
    """The training images, (N, 1, 28, 28) uint8."""
    raw = _read(data_dir, "train-images-idx3-ubyte")
    count = int.from_bytes(raw[4:8], "big")
    pixels = torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8)
    return pixels.view(count, 1, 28, 28)


def load_labels(data_dir):
    """The training labels, (N,) int64."""
    raw = _read(data_dir, "train-labels-idx1-ubyte")
    return torch.frombuffer(bytearray(raw[8:]), dtype=torch.uint8).long()


def measure(step, args):
    """Runs `step` `args.warmup` times, then `args.repeats` timed runs of `args.steps` steps;
    prints the median steps/s as JSON."""
    for _ in range(args.warmup):
        step()
    rates = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        for _ in range(args.steps):
            step()
        rates.append(args.steps / (time.perf_counter() - started))
    print(json.dumps({
        "preset": args.preset,
        "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "steps_per_second": statistics.median(rates),
        "steps_per_second_repeats": sorted(rates),
    }))
