"""A strict parser of the Prometheus text exposition format (0.0.4), for the tests.

Stricter than Prometheus itself: every family has exactly one HELP and one TYPE line
before its samples, its samples are contiguous, no series appears twice, label values
use only the three escapes (\\\\, \\", \\n), and a histogram's buckets are cumulative,
end at le="+Inf" and agree with its _count. Any breach raises `ExpositionError`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_TYPES = {"counter", "gauge", "histogram"}
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count")}


class ExpositionError(ValueError):
    pass


@dataclass
class Family:
    name: str
    help: str | None = None
    type: str | None = None
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def value(self, sample_name: str | None = None, **labels: str) -> float:
        wanted = sample_name or self.name
        for name, found, number in self.samples:
            if name == wanted and found == labels:
                return number
        raise KeyError((wanted, labels))


def _number(text: str) -> float:
    if text in ("+Inf", "-Inf", "NaN"):
        return {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}[text]
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?", text):
        raise ExpositionError(f"not a number: {text!r}")
    return float(text)


def _unescape_help(text: str) -> str:
    out, index = [], 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            following = text[index + 1 : index + 2]
            if following not in ("\\", "n"):
                raise ExpositionError(f"bad escape in HELP: {text!r}")
            out.append("\n" if following == "n" else "\\")
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _labels(text: str, start: int) -> tuple[dict[str, str], int]:
    """Labels from `{` at `start`; the dict and the index after `}`."""
    labels: dict[str, str] = {}
    index = start + 1
    while True:
        if text[index : index + 1] == "}":
            return labels, index + 1
        match = _LABEL.match(text, index)
        if match is None:
            raise ExpositionError(f"bad label name at {index}: {text!r}")
        key = match[0]
        index = match.end()
        if text[index : index + 2] != '="':
            raise ExpositionError(f"label {key} has no quoted value: {text!r}")
        index += 2
        value = []
        while True:
            char = text[index : index + 1]
            if char == "":
                raise ExpositionError(f"unterminated label value: {text!r}")
            if char == '"':
                index += 1
                break
            if char == "\n":
                raise ExpositionError("raw newline in a label value")
            if char == "\\":
                following = text[index + 1 : index + 2]
                escapes = {"\\": "\\", '"': '"', "n": "\n"}
                if following not in escapes:
                    raise ExpositionError(f"bad escape in a label value: {text!r}")
                value.append(escapes[following])
                index += 2
                continue
            value.append(char)
            index += 1
        if key in labels:
            raise ExpositionError(f"label {key} twice: {text!r}")
        labels[key] = "".join(value)
        following = text[index : index + 1]
        if following == ",":
            index += 1
        elif following != "}":
            raise ExpositionError(f"expected , or }} after a label: {text!r}")


def _family_of(sample: str, families: dict[str, Family]) -> Family:
    if sample in families and families[sample].type != "histogram":
        return families[sample]
    for suffix in _SUFFIXES["histogram"]:
        base = sample.removesuffix(suffix)
        if base != sample and base in families and families[base].type == "histogram":
            return families[base]
    raise ExpositionError(f"sample {sample} before its TYPE line")


def parse(text: str) -> dict[str, Family]:
    if not text.endswith("\n"):
        raise ExpositionError("the page must end with a newline")
    families: dict[str, Family] = {}
    seen: set[tuple[str, tuple]] = set()
    finished: set[str] = set()
    current: str | None = None
    for line in text[:-1].split("\n"):
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) < 4 or parts[1] not in ("HELP", "TYPE") or not _NAME.fullmatch(parts[2]):
                raise ExpositionError(f"bad comment line: {line!r}")
            kind, name, rest = parts[1], parts[2], parts[3]
            family = families.setdefault(name, Family(name))
            if family.samples or name in finished:
                raise ExpositionError(f"{kind} of {name} after its samples")
            if kind == "HELP":
                if family.help is not None:
                    raise ExpositionError(f"two HELP lines for {name}")
                family.help = _unescape_help(rest)
            else:
                if family.type is not None or rest not in _TYPES:
                    raise ExpositionError(f"bad or second TYPE line for {name}: {rest!r}")
                family.type = rest
            if current is not None and current != name:
                finished.add(current)
            current = name
            continue
        match = _NAME.match(line)
        if match is None:
            raise ExpositionError(f"bad sample line: {line!r}")
        sample, index = match[0], match.end()
        labels: dict[str, str] = {}
        if line[index : index + 1] == "{":
            labels, index = _labels(line, index)
        if line[index : index + 1] != " ":
            raise ExpositionError(f"no space before the value: {line!r}")
        number = _number(line[index + 1 :])
        family = _family_of(sample, families)
        if family.name in finished or (current is not None and current != family.name):
            raise ExpositionError(f"samples of {family.name} are not together")
        if family.help is None or family.type is None:
            raise ExpositionError(f"{family.name} lacks HELP or TYPE")
        key = (sample, tuple(sorted(labels.items())))
        if key in seen:
            raise ExpositionError(f"series twice: {line!r}")
        seen.add(key)
        if family.type == "counter" and number < 0:
            raise ExpositionError(f"negative counter: {line!r}")
        family.samples.append((sample, labels, number))
    for family in families.values():
        if not family.samples:
            raise ExpositionError(f"{family.name} has no samples")
        if family.type == "histogram":
            _check_histogram(family)
    return families


def _check_histogram(family: Family) -> None:
    series: dict[tuple, list[tuple[float, float]]] = {}
    counts: dict[tuple, float] = {}
    sums: set[tuple] = set()
    for name, labels, number in family.samples:
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        if name.endswith("_bucket"):
            if "le" not in labels:
                raise ExpositionError(f"{name} without le")
            series.setdefault(rest, []).append((_number(labels["le"]), number))
        elif name.endswith("_count"):
            counts[rest] = number
        else:
            sums.add(rest)
    for rest, buckets in series.items():
        bounds = [bound for bound, _ in buckets]
        cumulative = [count for _, count in buckets]
        if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            raise ExpositionError(f"{family.name}{rest}: buckets out of order")
        if bounds[-1] != math.inf:
            raise ExpositionError(f"{family.name}{rest}: no +Inf bucket")
        if cumulative != sorted(cumulative):
            raise ExpositionError(f"{family.name}{rest}: buckets not cumulative")
        if counts.get(rest) != cumulative[-1] or rest not in sums:
            raise ExpositionError(f"{family.name}{rest}: _count or _sum disagrees")
