"""Benchmark: ``python -m tokens encode`` throughput and memory, with a baseline in the same run.

Scenarios (each a fresh ``python -m tokens encode`` process pinned to one CPU, fed a generated
JSON Lines file, output to /dev/null):

* ``ea07-ready``   EA07 credit tokens under a ready decoder key
* ``ea11-ready``   EA11 (MISTY1) credit tokens under a ready decoder key
* ``dkga04-each``  EA07 credit tokens with a DKGA-04 derivation per token (a new PAN per line)
* ``ea07-1M``      1 000 000 EA07 lines: peak memory must match the short run (streaming)

Baseline, same run, same machine: a straightforward bit-by-bit STA encoder (SPEC §5.3 written
as the prose says) over the ea07-ready records, in process. The issue puts it near 6 000
tokens/s on these machines; the ratio shows what the table-driven STA buys.

The time of a scenario is the wall-clock time of the whole process (interpreter start, table
set-up and all lines). On a shared machine another process on the pinned CPU stretches it, so
the CPU time the process used (user + system, from ``wait4``) is reported too: the two agree on
an idle CPU, and tokens per CPU-second is the steadier figure when they do not. ``--repeat N``
runs each scenario N times and keeps the fastest run.

Usage: ``python bench/tokens_encode.py [--lines 200000] [--memory-lines 1000000] [--repeat 1]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tokens.amount import encode_transfer_amount  # noqa: E402
from tokens.codec import transpose  # noqa: E402
from tokens.crc import crc_field  # noqa: E402
from tokens.identifiers import luhn_check_digit  # noqa: E402
from tokens.sta import load_tables  # noqa: E402

READY = {
    "ea07-ready": {"decoder_key": "e653341f9d5bf36f", "ea": "07"},
    "ea11-ready": {"decoder_key": "f94b6ed353c3bfdb113e2d3a7ea3c41d", "ea": "11"},
}
VK04 = "abababababababab949494949494949401234567"


def write_input(path: Path, scenario: str, lines: int) -> None:
    with path.open("w") as out:
        for i in range(lines):
            tid = 5_000_000 + i % 10_000_000
            amount = encode_transfer_amount(1 + i % 16_000)
            if scenario == "dkga04-each":
                body = "600727" + f"{i % 10**11:011d}"
                key = {"dkga": "04", "vending_key": VK04, "pan": body + luhn_check_digit(body),
                       "kt": 2, "sgc": "123457", "ti": 1, "krn": 1, "base_date": 2014,
                       "ea": "07"}
            else:
                key = READY["ea07-ready" if scenario == "ea07-1M" else scenario]
            record = {"id": i, "key": key, "class": 0, "subclass": 0,
                      "payload": f"{i % 16:x}{tid:06x}{amount:04x}"}
            out.write(json.dumps(record) + "\n")


def run_cli(path: Path, cpu: int) -> tuple[float, float, int, int]:
    """Wall-clock seconds, CPU seconds, peak RSS (KiB) and exit status of one
    ``python -m tokens encode`` run."""
    with path.open("rb") as stdin, open(os.devnull, "wb") as devnull:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "tokens", "encode"], stdin=stdin, stdout=devnull, cwd=ROOT,
            preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
    cpu_seconds = usage.ru_utime + usage.ru_stime
    return elapsed, cpu_seconds, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def naive_sta_encrypt(block: int, key: int, s1: tuple[int, ...], s2: tuple[int, ...],
                      p: tuple[int, ...]) -> int:
    """STA as SPEC §5.3 describes it, bit by bit: the baseline."""
    mask = (1 << 64) - 1
    k = ((~key & mask) >> 12 | (~key & mask) << 52) & mask
    d = block
    for _ in range(16):
        sub = 0
        for n in range(16):
            nib = (d >> (4 * n)) & 15
            box = s2 if (k >> (4 * n + 3)) & 1 else s1
            sub |= box[nib] << (4 * n)
        out = 0
        for i in range(64):
            if (sub >> i) & 1:
                out |= 1 << p[i]
        d = out
        k = ((k << 1) | (k >> 63)) & mask
    return d


def baseline(path: Path, lines: int) -> float:
    """Tokens per second of the bit-by-bit STA encoder, parsing the same JSON records."""
    tables = load_tables()
    with path.open() as src:
        records = [json.loads(next(src)) for _ in range(lines)]
    start = time.perf_counter()
    for record in records:
        key = int(record["key"]["decoder_key"], 16)
        payload = int(record["payload"], 16)
        block = (payload << 16) | crc_field(0, 0, payload)
        cipher = naive_sta_encrypt(block, key, tables.s1, tables.s2, tables.p)
        f"{transpose(cipher, 0):020d}"
    return lines / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--memory-lines", type=int, default=1_000_000)
    parser.add_argument("--baseline-lines", type=int, default=20_000)
    parser.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)))
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per scenario; the fastest is reported (default 1)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in ("ea07-ready", "ea11-ready", "dkga04-each", "ea07-1M"):
            lines = args.memory_lines if scenario == "ea07-1M" else args.lines
            path = Path(tmp) / f"{scenario}.jsonl"
            write_input(path, scenario, lines)
            runs = []
            for _ in range(max(1, args.repeat)):
                elapsed, cpu_seconds, rss_kib, status = run_cli(path, args.cpu)
                if status != 0:
                    print(f"{scenario}: python -m tokens encode exited {status}", file=sys.stderr)
                    return 1
                runs.append((elapsed, cpu_seconds, rss_kib))
            elapsed, cpu_seconds, rss_kib = min(runs)
            results[scenario] = {"lines": lines, "seconds": round(elapsed, 3),
                                 "tokens_per_s": round(lines / elapsed),
                                 "cpu_seconds": round(cpu_seconds, 3),
                                 "tokens_per_cpu_s": round(lines / cpu_seconds),
                                 "peak_rss_mib": round(rss_kib / 1024, 1)}
            path.unlink()
        base_path = Path(tmp) / "baseline.jsonl"
        write_input(base_path, "ea07-ready", args.baseline_lines)
        base = baseline(base_path, args.baseline_lines)
    results["baseline-bitwise-sta"] = {"lines": args.baseline_lines, "tokens_per_s": round(base)}

    print(f"python -m tokens encode, one CPU (cpu {args.cpu}), {os.cpu_count()} cores on host")
    print(f"{'scenario':<22}{'lines':>10}{'seconds':>10}{'tokens/s':>11}{'cpu s':>9}"
          f"{'tokens/cpu-s':>14}{'peak MiB':>10}")
    for name, r in results.items():
        print(f"{name:<22}{r['lines']:>10}{r.get('seconds', ''):>10}{r['tokens_per_s']:>11}"
              f"{r.get('cpu_seconds', ''):>9}{r.get('tokens_per_cpu_s', ''):>14}"
              f"{r.get('peak_rss_mib', ''):>10}")
    ratio = results["ea07-ready"]["tokens_per_s"] / base
    print(f"ea07-ready / bitwise baseline: {ratio:.1f}x")
    growth = results["ea07-1M"]["peak_rss_mib"] - results["ea07-ready"]["peak_rss_mib"]
    print(f"peak memory, {args.memory_lines} lines vs {args.lines}: {growth:+.1f} MiB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
