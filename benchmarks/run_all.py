"""Runs every benchmark of the project and prints one table of ratios.

Usage:

    python benchmarks/run_all.py                      # the active backend
    python benchmarks/run_all.py --quick              # fewer repetitions
    python benchmarks/run_all.py --backends tensorflow,jax --markdown

Every other `benchmarks/*.py` script (not starting with `_`) is run in its
own process, once per backend (`KERAS_BACKEND`), with `--quick` passed
through. A benchmark reports each figure on one line of its standard output:

    RESULT name=<figure> ratio=<float> target=<float>

`name` has no spaces; `ratio` is keras_binary's time over the reference
(plain Keras, or the hand-written floor), so lower is better; `target` is
the ratio the project promises. Any other `key=value` pairs on the line are
kept (e.g. `reference=floor`) and shown in the notes column. The table says,
for every figure, whether it meets its target.

A benchmark that prints no RESULT line is read from its human-readable
tables instead (a `variant  median ms  ratio  target` header, then one row
per variant; see `parse_tables`).

Exit status: 0 when every benchmark ran and printed at least one RESULT
line; 1 when one failed or printed none; with `--strict`, also 1 when a
figure misses its target.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
_RESULT = re.compile(r"^RESULT\s+(.*)$")
_PAIR = re.compile(r"(\w+)=(\S+)")


class Result(NamedTuple):
    backend: str
    script: str
    name: str
    ratio: float
    target: float | None
    notes: str

    @property
    def ok(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target


def parse_results(text: str, backend: str, script: str) -> list[Result]:
    """The `RESULT` lines of a benchmark's output.

    Args:
        text: the benchmark's standard output.
        backend: the backend it ran on.
        script: the benchmark's file name.

    Returns:
        One `Result` per well-formed line.

    Raises:
        ValueError: for a RESULT line without a name or a numeric ratio.

    Example:

    >>> parse_results("step 1\\nRESULT name=train_step ratio=1.02 target=1.03 reference=keras\\n", "jax", "x.py")
    [Result(backend='jax', script='x.py', name='train_step', ratio=1.02, target=1.03, notes='reference=keras')]
    """
    results = []
    for line in text.splitlines():
        match = _RESULT.match(line.strip())
        if not match:
            continue
        fields = dict(_PAIR.findall(match.group(1)))
        try:
            name = fields.pop("name")
            ratio = float(fields.pop("ratio"))
        except (KeyError, ValueError) as error:
            raise ValueError(f"{script}: malformed RESULT line {line.strip()!r}") from error
        target = fields.pop("target", None)
        notes = " ".join(f"{k}={v}" for k, v in fields.items())
        results.append(Result(backend, script, name, ratio, None if target is None else float(target), notes))
    return results


_TABLE_HEADER = re.compile(r"^\s+variant\s+median ms\s+ratio\b")
_TABLE_ROW = re.compile(
    r"^\s{2}(?P<name>\S.*?)\s{2,}(?P<ms>\d+\.\d+)\s+(?P<ratio>\d+\.\d+)"
    r"(?:\s+<=\s*(?P<target>\d+(?:\.\d+)?)\s+\w+)?\s*$"
)


_RATIO_LINE = re.compile(
    r"^\s*(?P<name>\S+)\s+median ratio (?P<ratio>\d+\.\d+)\s*\([^)]*target <= (?P<target>\d+(?:\.\d+)?)\)"
)


def parse_tables(text: str, backend: str, script: str) -> list[Result]:
    """Figures from the human-readable tables of a benchmark without RESULT lines.

    A table is a title line (e.g. `(a) training step, ...`), a header
    `variant  median ms  ratio  target`, then one row per variant:
    `name  <median ms>  <ratio>  [<= <target> ok|MISSED]`. The first row with
    ratio 1.000 and no target is the reference; every other row is a figure.
    A line `<name>  median ratio <ratio> (..., target <= <target>)` is one
    figure too.

    Example:

    >>> out = "\\n".join([
    ...     "(a) training step",
    ...     "  variant          median ms   ratio  target",
    ...     "  keras BCE            1.337   1.000",
    ...     "  SafeBCE              1.323   0.990  <= 1.03 ok",
    ... ])
    >>> [(r.name, r.ratio, r.target, r.notes) for r in parse_tables(out, "jax", "x.py")]
    [('(a) SafeBCE', 0.99, 1.03, 'vs keras BCE')]
    >>> parse_tables("  forward     median ratio 1.004 (ok, target <= 1.02)   plain 2 ms", "jax", "x.py")[0].ratio
    1.004
    """
    results = []
    title, reference, in_table = "", "", False
    for line in text.splitlines():
        single = _RATIO_LINE.match(line)
        if single:
            results.append(
                Result(backend, script, single["name"], float(single["ratio"]), float(single["target"]), "")
            )
            continue
        if _TABLE_HEADER.match(line):
            in_table, reference = True, ""
            continue
        row = _TABLE_ROW.match(line) if in_table else None
        if row is None:
            in_table = False
            if line.strip() and not line.startswith(" "):
                title = line.strip()
            continue
        ratio, target = float(row["ratio"]), row["target"]
        if not reference and ratio == 1.0 and target is None:
            reference = row["name"]
            continue
        label = re.match(r"\((\w+)\)", title)
        name = f"({label.group(1)}) {row['name']}" if label else row["name"]
        notes = f"vs {reference}" if reference else ""
        results.append(Result(backend, script, name, ratio, None if target is None else float(target), notes))
    return results


def discover(only: str | None = None) -> list[Path]:
    """The benchmark scripts: every `benchmarks/*.py` but this one and `_*.py`."""
    scripts = sorted(
        p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_")
    )
    if only:
        scripts = [p for p in scripts if re.search(only, p.name)]
    return scripts


def machine() -> dict:
    """What the figures were measured on: CPU, cores, Python and package versions, date."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in ("keras", "tensorflow", "jax", "torch", "numpy"):
        try:
            from importlib.metadata import version

            versions[package] = version(package if package != "tensorflow" else _tensorflow_dist())
        except Exception:  # noqa: BLE001 - a package that is not installed is just not listed
            continue
    return {
        "date": datetime.date.today().isoformat(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def _tensorflow_dist() -> str:
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("tensorflow", "tensorflow-cpu", "tensorflow-macos"):
        try:
            version(dist)
            return dist
        except PackageNotFoundError:
            continue
    return "tensorflow"


def supports_quick(script: Path) -> bool:
    """Whether a benchmark accepts `--quick` (those that do not run in full)."""
    return "--quick" in script.read_text(encoding="utf-8")


def run_script(script: Path, backend: str, quick: bool, timeout: float) -> tuple[int, str, str, float]:
    """Runs one benchmark in its own process; returns (exit code, stdout, stderr, seconds)."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, str(script)] + (["--quick"] if quick and supports_quick(script) else [])
    start = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as error:
        out = error.stdout.decode() if isinstance(error.stdout, bytes) else (error.stdout or "")
        return 124, out, f"timed out after {timeout:.0f} s", time.perf_counter() - start
    return done.returncode, done.stdout, done.stderr, time.perf_counter() - start


def _cell(result: Result) -> tuple[str, str, str, str, str, str]:
    target = "" if result.target is None else f"{result.target:.2f}"
    verdict = {True: "yes", False: "NO", None: ""}[result.ok]
    return (result.backend, result.script, result.name, f"{result.ratio:.3f}", target, verdict)


def format_table(results: list[Result], markdown: bool = False) -> str:
    """One table of every figure: backend, benchmark, figure, ratio, target, met, notes.

    Example:

    >>> print(format_table([Result("jax", "x.py", "step", 1.012, 1.03, "")], markdown=True))
    | backend | benchmark | figure | ratio | target | met | notes |
    |---|---|---|---|---|---|---|
    | jax | x.py | step | 1.012 | 1.03 | yes |  |
    """
    header = ("backend", "benchmark", "figure", "ratio", "target", "met", "notes")
    rows = [(*_cell(r), r.notes) for r in results]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=False)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run every benchmark of keras_binary and print one table of ratios against plain Keras.",
        epilog="Example: python benchmarks/run_all.py --quick --backends tensorflow,jax --markdown",
    )
    parser.add_argument(
        "--quick", action="store_true", help="pass --quick to every benchmark (fewer repetitions)"
    )
    parser.add_argument(
        "--backends",
        default=os.environ.get("KERAS_BACKEND", "tensorflow"),
        help="comma-separated Keras backends to run on (default: $KERAS_BACKEND or tensorflow)",
    )
    parser.add_argument(
        "--only", help="run only the benchmarks whose file name matches this regular expression"
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per benchmark run")
    parser.add_argument(
        "--markdown", action="store_true", help="print the table in Markdown (for docs/benchmarks.md)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results and the machine to FILE")
    parser.add_argument("--strict", action="store_true", help="exit with 1 when a figure misses its target")
    args = parser.parse_args(argv)

    scripts = discover(args.only)
    if not scripts:
        print("no benchmark found in", HERE, file=sys.stderr)
        return 1
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    info = machine()
    print(
        f"# {info['date']}, {info['cpu']}, {info['cores']} cores, Python {info['python']}, "
        + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    )
    results: list[Result] = []
    failures: list[str] = []
    for backend in backends:
        for script in scripts:
            quick = " --quick" if args.quick and supports_quick(script) else ""
            if args.quick and not quick:
                quick = " (no --quick option: full run)"
            print(f"# running {script.name} on {backend}{quick} ...", flush=True)
            code, out, err, seconds = run_script(script, backend, args.quick, args.timeout)
            try:
                found = parse_results(out, backend, script.name) or parse_tables(out, backend, script.name)
            except ValueError as error:
                found, code, err = [], code or 1, f"{err}\n{error}"
            if code != 0 or not found:
                why = f"exit code {code}" if code != 0 else "no RESULT line"
                tail = "\n".join((err or out).strip().splitlines()[-5:])
                failures.append(f"{script.name} on {backend}: {why}\n{tail}")
                print(f"#   FAILED ({why}) after {seconds:.0f} s", flush=True)
            else:
                print(f"#   {len(found)} figures in {seconds:.0f} s", flush=True)
            results.extend(found)

    print()
    print(format_table(results, markdown=args.markdown))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"machine": info, "quick": args.quick, "results": [r._asdict() for r in results]}, indent=2
            )
        )
    for failure in failures:
        print(f"\nFAILED: {failure}", file=sys.stderr)
    missed = [r for r in results if r.ok is False]
    if missed:
        print(
            f"\n{len(missed)} figure(s) miss their target: "
            + ", ".join(f"{r.backend}/{r.name}" for r in missed)
        )
    if failures:
        return 1
    return 1 if (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
