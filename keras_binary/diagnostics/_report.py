"""The report types of `diagnose`: `Finding`, `Report`, and the registry of codes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("error", "warning", "info")

# code -> (usual severity, title). Every code has a section in docs/errors.md
# and an entry in docs/diagnose.md; tests check both. A few findings are
# reported with a lower severity when the evidence is weaker (said in the
# docs of the code).
DIAGNOSTIC_CODES: dict[str, tuple[str, str]] = {
    "KBD001": ("error", "Binary head stacked on a multi-class softmax"),
    "KBD002": ("error", "Softmax over an axis of size 1"),
    "KBD003": ("error", "Sigmoid or one-unit output with a categorical cross-entropy"),
    "KBD004": ("error", "from_logits=True on a sigmoid or softmax output"),
    "KBD005": ("error", "from_logits=False on a linear (logit) output"),
    "KBD006": ("error", "Unpooled spatial output against per-example labels"),
    "KBD007": ("error", "Labels do not fit the output shape"),
    "KBD008": ("error", "One-hot labels against a one-unit output"),
    "KBD009": ("error", "Labels outside {0, 1}"),
    "KBD010": ("error", "Labels contain NaN"),
    "KBD011": ("error", "Only one class in the labels"),
    "KBD012": ("warning", "Strong class imbalance with nothing to compensate"),
    "KBD013": ("warning", "BatchNormalization of a frozen backbone runs in training mode"),
    "KBD014": ("error", "Input range does not match the backbone's preprocess_input"),
    "KBD015": ("warning", "Sigmoid or softmax output not computed in float32 under mixed precision"),
    "KBD016": ("info", "The output is not binary"),
    "KBD017": ("error", "Inputs contain NaN or infinity"),
    "KBD018": ("info", "No loss to check"),
    "KBD019": ("error", "The data do not fit the model's input"),
    "KBD020": ("info", "No functional graph to read"),
    "KBD021": ("error", "Metric thresholds a logit output at 0.5"),
    "KBD022": ("error", "Single-score metric on a softmax pair"),
    "KBD023": ("error", "keras.metrics.Accuracy on scores"),
    "KBD024": ("error", "Final activation is neither a probability nor a logit"),
    "KBD025": ("info", "Which class name is class 1"),
    "KBD026": ("info", "A check could not run on this model"),
    "KBD027": ("error", "Binary head on a classifier top's logits"),
    "KBD028": ("error", "Metric with from_logits=True on a probability output"),
    "KBD029": ("error", "Categorical accuracy on a one-unit output"),
    "KBD030": ("error", "The first predictions of a model without a graph"),
    "KBD040": ("error", "Dropout or noise after the final activation"),
    "KBD041": ("error", "Class-id labels against a two-unit output with a Keras loss"),
}

# ---------------------------------------------------------------------------
# The report.


@dataclass(frozen=True)
class Finding:
    """One problem found by `diagnose`.

    Attributes:
        code: the stable code, e.g. `"KBD001"`; see `DIAGNOSTIC_CODES`.
        severity: `"error"` (the model cannot learn the task as written),
            `"warning"` (it may, but probably not as intended) or `"info"`.
        where: what it concerns: `"layer 'dense'"`, `"loss"`, `"labels (y)"`,
            `"inputs (x)"` or `"model"`.
        summary: one sentence saying what is wrong, with the numbers.
        explanation: why it matters.
        fix: one line of code, or one sentence, that fixes it.

    Example:

    >>> finding = Finding("KBD011", "error", "labels (y)", "all 8 labels are 1.",
    ...                   "nothing can be learned from one class.", "add negative examples")
    >>> finding.title
    'Only one class in the labels'
    >>> print(str(finding).splitlines()[0])
    error KBD011 at labels (y): all 8 labels are 1.
    """

    code: str
    severity: str
    where: str
    summary: str
    explanation: str
    fix: str

    def __post_init__(self) -> None:
        if self.code not in DIAGNOSTIC_CODES:
            raise KeyError(f"Unknown keras_binary diagnostic code {self.code!r}.")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, received {self.severity!r}.")

    @property
    def title(self) -> str:
        """The code's title in `DIAGNOSTIC_CODES`."""
        return DIAGNOSTIC_CODES[self.code][1]

    def to_dict(self) -> dict[str, str]:
        """The finding as a JSON-ready dict."""
        return {
            "code": self.code,
            "severity": self.severity,
            "title": self.title,
            "where": self.where,
            "summary": self.summary,
            "explanation": self.explanation,
            "fix": self.fix,
        }

    def __str__(self) -> str:
        return f"{self.severity} {self.code} at {self.where}: {self.summary}\n  Why: {self.explanation}\n  Fix: {self.fix}"


@dataclass
class Report:
    """What `diagnose` found: a list of findings, most severe first.

    Attributes:
        findings: the `Finding`s, errors first, then warnings, then infos.
        model_name: the name of the model that was read.
        checked: what could be checked: `"graph"` (the functional graph),
            `"loss"` (the loss's name, or `None`), `"labels"` and `"inputs"`
            (whether `y` and `x` were given).

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="softmax")])
    >>> report = keras_binary.diagnose(model, loss="binary_crossentropy")
    >>> report.ok, report.codes
    (False, ['KBD002'])
    >>> report.to_dict()["findings"][0]["severity"]
    'error'
    """

    findings: list[Finding] = field(default_factory=list)
    model_name: str = ""
    checked: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """`False` when an error was found (warnings and infos do not count)."""
        return not self.errors

    @property
    def errors(self) -> list[Finding]:
        """The findings of severity `"error"`."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """The findings of severity `"warning"`."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def codes(self) -> list[str]:
        """The codes of the findings, in order."""
        return [f.code for f in self.findings]

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def counts(self) -> dict[str, int]:
        """The number of findings of each severity."""
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}

    def headline(self) -> str:
        """The first line of the report: the model and the counts."""
        counts = self.counts()
        if not self.findings:
            result = "no problem found"
        else:
            parts = [f"{n} {s}{'' if n == 1 or s == 'info' else 's'}" for s, n in counts.items() if n]
            result = ", ".join(parts)
        return f"keras_binary.diagnose: model {self.model_name!r}: {result}."

    def checked_line(self) -> str:
        """A line saying what was checked."""
        loss = self.checked.get("loss")
        return "Checked: " + ", ".join(
            [
                "graph" if self.checked.get("graph") else "no graph",
                f"loss {loss}" if loss else "no loss",
                "labels (y)" if self.checked.get("labels") else "no labels",
                "inputs (x)" if self.checked.get("inputs") else "no inputs",
            ]
        )

    def __str__(self) -> str:
        parts = [self.headline()]
        parts += [str(f) for f in self.findings]
        parts.append(self.checked_line() + ".")
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data: model, ok, counts, checked, findings."""
        return {
            "model": self.model_name,
            "ok": self.ok,
            "counts": self.counts(),
            "checked": dict(self.checked),
            "findings": [f.to_dict() for f in self.findings],
        }


def _finding(
    code: str, where: str, summary: str, explanation: str, fix: str, severity: str | None = None
) -> Finding:
    return Finding(code, severity or DIAGNOSTIC_CODES[code][0], where, summary, explanation, fix)
