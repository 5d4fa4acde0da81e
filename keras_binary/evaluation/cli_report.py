"""`keras-binary report`: a saved model's report and figures on the user's own data.

The command loads a `.keras` model and a NumPy `.npz` file of inputs `x` and
labels `y` (optionally `sample_weight`), runs `keras_binary.report` on it,
writes the figures of `BinaryReport.plot` and `summary.json` into `--out`, and
prints the report (or JSON with `--json`). With `--target-sensitivity S`, the
threshold is chosen by `keras_binary.select_threshold(method="sensitivity")`
on `--val-data` (better: the threshold is then evaluated on data it was not
chosen on) or, without it, on `--data` itself (the output says so: the
sensitivity on that data is then optimistic).

Exit codes, as `keras-binary doctor`: 0 no error found, 1 `diagnose` found an
error in the model or the data (the report is still written), 2 bad usage (a
missing or unreadable file, an `.npz` without `x` or `y`, data that does not
fit the model). Bad usage is one line on stderr, never a traceback.

`keras_binary.cli._report` defines the command's options (light to import,
for `--help`) and hands the parsed arguments to `run`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import IO, Any

__all__ = ["run"]

EXIT_OK, EXIT_FOUND_ERROR, EXIT_USAGE = 0, 1, 2
_PROG = "keras-binary"


class _BadInput(Exception):
    """Bad usage or input: one line on stderr, exit code 2."""


# ---------------------------------------------------------------------------


def _load_data(path: str, option: str) -> tuple[Any, Any, Any]:
    import zipfile

    import numpy as np

    if not os.path.isfile(path):
        raise _BadInput(f"{option}: no data file at {path!r}.")
    save = "save it with np.savez(path, x=x, y=y)"
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            single = f.read(6) == b"\x93NUMPY"
        what = (
            "a single .npy array, not an .npz file"
            if single
            else "not a NumPy .npz file (a zip archive of arrays)"
        )
        raise _BadInput(f"{option}: {path!r} is {what}; {save}.")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except Exception as error:  # noqa: BLE001 - any failure means "not an .npz we can read"
        first = (str(error).strip().splitlines() or [""])[0][:200]
        raise _BadInput(
            f"{option}: {path!r} is not a readable NumPy .npz file ({type(error).__name__}: {first}); {save}."
        ) from None
    missing = [name for name in ("x", "y") if name not in arrays]
    if missing:
        names = ", ".join(sorted(arrays)) or "none"
        raise _BadInput(
            f"{option}: {path!r} has no array named {' or '.join(missing)} (arrays: {names}); {save}."
        )
    return arrays["x"], arrays["y"], arrays.get("sample_weight")


def _load_model(path: str) -> Any:
    from keras_binary.diagnostics import load_model

    try:
        return load_model(path)
    except (FileNotFoundError, ValueError) as error:
        raise _BadInput(str(error)) from None


def _report(
    model: Any, data: tuple, args: argparse.Namespace, path: str, threshold: float | None, name: str
) -> Any:
    import keras_binary

    x, y, w = data
    kwargs: dict[str, Any] = {"n_bootstrap": args.n_bootstrap, "seed": args.seed, "verbose": 0, "name": name}
    if threshold is not None:
        kwargs["threshold"] = threshold
    if w is not None:
        kwargs["sample_weight"] = w
    try:
        return keras_binary.report(model, x, y, **kwargs)
    except keras_binary.errors.BinaryError as error:
        first = str(error).splitlines()[0]
        raise _BadInput(f"the data in {path!r} cannot be evaluated with the model: {first}") from None
    except (TypeError, ValueError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        raise _BadInput(
            f"the data in {path!r} does not fit the model ({type(error).__name__}: {first})"
        ) from None


def _choose_threshold(
    model: Any, args: argparse.Namespace, test_data: tuple, name: str
) -> tuple[float, dict]:
    import keras_binary

    chosen_on, path = ("validation", args.val_data) if args.val_data else ("evaluation", args.data)
    data = _load_data(args.val_data, "--val-data") if args.val_data else test_data
    scored = _report(model, data, argparse.Namespace(**{**vars(args), "n_bootstrap": 0}), path, None, name)
    try:
        choice = keras_binary.select_threshold(
            scored.y_true, scored.y_score, method="sensitivity", value=args.target_sensitivity
        )
    except keras_binary.errors.BinaryError as error:
        raise _BadInput(f"no threshold can be chosen on {path!r}: {str(error).splitlines()[0]}") from None
    info = {
        "method": "sensitivity",
        "target": args.target_sensitivity,
        "chosen_on": chosen_on,
        "data": path,
        "threshold": float(choice.threshold),
        "sensitivity": float(choice.sensitivity),
        "specificity": float(choice.specificity),
    }
    return float(choice.threshold), info


def _findings(model: Any, x: Any, y: Any) -> Any:
    from keras_binary.diagnostics import diagnose

    try:
        return diagnose(model, x, y)
    except (TypeError, ValueError):  # the report itself says what is wrong with the data
        return diagnose(model)


def _comparison(result: Any, other: Any) -> Any:
    """The paired comparison of the two models' reports on the same data (`keras_binary.compare`).

    Each AUC ranks its model's raw scores (`BinaryReport.score`: the logits
    of a logit model), as `keras_binary.report` and `keras_binary.compare`
    do, so logits beyond the float64 sigmoid's saturation (about 37) do not
    tie; the thresholds apply to the probabilities.
    """
    from keras_binary.evaluation import _data
    from keras_binary.evaluation.compare import compare_host

    def host(r: Any) -> Any:
        return _data.HostData(r.y_true, r.score, r.y_score, None, r.from_logits)

    return compare_host(
        host(result),
        host(other),
        threshold_a=result.threshold,
        threshold_b=other.threshold,
        confidence=result.confidence,
        names=(result.name, other.name),
    )


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0] or "model"


def _execute(args: argparse.Namespace, out: IO[str]) -> int:
    data = _load_data(args.data, "--data")  # bad data is refused before a model is loaded
    if args.val_data and args.target_sensitivity is None:
        raise _BadInput("--val-data is only used with --target-sensitivity; add --target-sensitivity 0.95.")
    if args.threshold is not None and args.target_sensitivity is not None:
        raise _BadInput("--threshold and --target-sensitivity both set the threshold; pass one of them.")
    model = _load_model(args.model)
    name = _stem(args.model)
    threshold, selection = args.threshold, None
    if args.target_sensitivity is not None:
        threshold, selection = _choose_threshold(model, args, data, name)
    result = _report(model, data, args, args.data, threshold, name)
    compare = None
    if args.compare:
        other = _load_model(args.compare)
        compare = _report(other, data, args, args.data, None, _stem(args.compare))
    comparison = None if compare is None else _comparison(result, compare)
    diagnosis = _findings(model, data[0], data[1])
    try:
        paths = result.plot(args.out, compare=compare)
    except OSError as error:
        raise _BadInput(f"cannot write into {args.out!r}: {error}") from None
    # summary.json gets what the command adds: the threshold's origin, the findings.
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    summary.update(
        {
            "model": args.model,
            "data": args.data,
            "threshold_selection": selection,
            "findings": [f.to_dict() for f in diagnosis.findings],
            "ok": diagnosis.ok,
        }
    )
    if comparison is not None:
        summary["comparison"] = comparison.to_dict()
    paths["summary"].write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    if args.json:
        out.write(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    else:
        lines = [str(result), ""]
        if selection:
            note = (
                f"chosen on the validation data {selection['data']!r}"
                if selection["chosen_on"] == "validation"
                else f"chosen on the same data {selection['data']!r}, so its sensitivity there is optimistic; "
                "pass --val-data to choose it on validation data"
            )
            lines.append(
                f"threshold {selection['threshold']:.4g} for sensitivity >= {selection['target']:g}, {note} "
                f"(there: sensitivity {selection['sensitivity']:.3f}, specificity {selection['specificity']:.3f})."
            )
        if compare is not None:
            lines.append(f"compared with {args.compare!r} on the same data (paired tests):")
            lines.append(str(comparison))
        lines.append(f"{diagnosis.headline()}")
        for finding in diagnosis.findings:
            lines.append(f"  {finding.severity} {finding.code}: {finding.summary}")
        lines.append("wrote " + ", ".join(str(p) for p in paths.values()))
        out.write("\n".join(lines) + "\n")
    return EXIT_OK if diagnosis.ok else EXIT_FOUND_ERROR


def run(args: argparse.Namespace, out: IO[str], err: IO[str] | None = None) -> int:
    """Runs `keras-binary report` with parsed arguments.

    Args:
        args: the namespace parsed with `keras_binary.cli._report.add_arguments`.
        out: where the report goes.
        err: where a bad-usage line goes (default: `sys.stderr`).

    Returns:
        The exit code: 0 no error found, 1 `diagnose` found an error, 2 bad
        usage or input.

    Example:

    >>> import argparse, io
    >>> from keras_binary.cli import _report
    >>> parser = argparse.ArgumentParser(prog="keras-binary")
    >>> _report.add_arguments(parser)
    >>> err = io.StringIO()
    >>> run(parser.parse_args(["m.keras", "--data", "missing.npz"]), io.StringIO(), err)
    2
    >>> err.getvalue()
    "keras-binary: error: --data: no data file at 'missing.npz'.\\n"
    """
    err = sys.stderr if err is None else err
    try:
        return _execute(args, out)
    except _BadInput as error:
        err.write(f"{_PROG}: error: {error}\n")
        return EXIT_USAGE
