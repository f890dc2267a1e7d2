"""The grader's half of a graded test: read a probe's records, decide the points.

A verdict is plain Python written beside its probe in the source notebook (see
:mod:`mbrl_helpers.grading.verdicts`). It runs in the grader's own process, never in a
student's kernel, and receives ``obs``, an :class:`Observations` of the decoded records::

    def verdict(obs):
        for T in [1, 2, 7]:
            G = number(obs.returned(("G", T), f"discounted_return(ones({T}), 0.5)"), "G")
            assert_close(G, (1 - 0.5**T) / 0.5, f"the return of {T} ones with gamma 0.5")

A failed ``assert`` (or :func:`mbrl_helpers.checks` helper) fails the cell with its
message. Records are decoded into plain values only: Python scalars, strings, lists,
tuples, dicts, numpy arrays (:class:`Tensor` for torch tensors), :class:`Raised` for an
exception and :class:`Foreign` for any other object the student returned.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mbrl_helpers.checks import as_float_array

#: Largest record output the grader decodes (characters of JSON).
MAX_RECORD_CHARS = 8_000_000
#: Largest decoded array (elements).
MAX_ELEMENTS = 5_000_000


class RecordError(ValueError):
    """A record is not what a probe writes (malformed, forged or too large)."""


@dataclass(frozen=True)
class Raised:
    """The student's code raised an exception (its class and base-class names)."""

    names: tuple[str, ...]
    message: str

    def is_a(self, name: str) -> bool:
        return name in self.names

    def __str__(self) -> str:
        return f"{self.names[0]}: {self.message}" if self.message else self.names[0]


@dataclass(frozen=True)
class Foreign:
    """An object of a type a record does not carry (its type name only)."""

    type_name: str
    value: Any = None  # the built-in value of an int/float/str subclass

    def __str__(self) -> str:
        return f"an object of type {self.type_name.rsplit('.', 1)[-1]}"


class Tensor(np.ndarray):
    """A torch tensor's values as a numpy array, with its torch dtype and ``requires_grad``."""

    torch_dtype: str = ""
    requires_grad: bool = False


def _array(spec: Any) -> np.ndarray:
    if not isinstance(spec, dict) or not isinstance(spec.get("shape"), list):
        raise RecordError("malformed array record")
    shape = spec["shape"]
    if len(shape) > 32 or not all(type(n) is int and 0 <= n <= MAX_ELEMENTS for n in shape):
        raise RecordError("bad array shape in a record")
    size = math.prod(shape)
    if size > MAX_ELEMENTS:
        raise RecordError("array record too large")
    if "$seq" in spec:
        items = [decode(x) for x in spec["$seq"]]
        out = np.empty(len(items), dtype=object)
        out[:] = items
        if out.size != size:
            raise RecordError("array record size does not match its shape")
        return out.reshape(shape)
    try:
        dtype = np.dtype(str(spec.get("dtype")))
        data = base64.b64decode(str(spec.get("b64", "")), validate=True)
    except (TypeError, ValueError) as err:
        raise RecordError(f"malformed array record: {err}") from None
    if dtype.kind not in "biufc" or len(data) != size * dtype.itemsize:
        raise RecordError("array record bytes do not match dtype and shape")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def decode(obj: Any, depth: int = 0) -> Any:  # noqa: C901 - one branch per record tag
    """A record value as plain Python (see the module docstring)."""
    if depth > 40:
        raise RecordError("record nested too deeply")
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    if type(obj) is list:
        return [decode(x, depth + 1) for x in obj]
    if type(obj) is not dict or len(obj) == 0:
        raise RecordError(f"unexpected record value {type(obj).__name__}")
    tag = next(iter(obj))
    if tag == "$tuple":
        return tuple(decode(x, depth + 1) for x in _list(obj[tag]))
    if tag == "$dict":
        out = {}
        for pair in _list(obj[tag]):
            if type(pair) is not list or len(pair) != 2:
                raise RecordError("malformed dict record")
            key = decode(pair[0], depth + 1)
            out[_hashable(key)] = decode(pair[1], depth + 1)
        return out
    if tag == "$float":
        value = float(str(obj[tag]))
        if math.isfinite(value):
            raise RecordError("a $float record holds a finite number")
        return value
    if tag == "$int":
        return int(str(obj[tag]))
    if tag == "$str":
        return str(obj[tag])
    if tag in ("$nd", "$np"):
        array = _array(obj[tag])
        return array if tag == "$nd" else array.reshape(())[()]
    if tag == "$torch":
        tensor = _array(obj[tag]).view(Tensor)
        tensor.torch_dtype = str(obj.get("dtype", ""))
        tensor.requires_grad = obj.get("requires_grad") is True
        return tensor
    if tag == "$raised":
        names = tuple(str(n) for n in _list(obj[tag]))
        return Raised(names or ("Exception",), str(obj.get("message", ""))[:2000])
    if tag == "$sub":
        return Foreign(str(obj[tag]), decode(obj.get("value"), depth + 1))
    if tag in ("$obj", "$unreadable", "$cut"):
        return Foreign(str(obj[tag]))
    raise RecordError(f"unknown record tag {tag!r}")


def _list(value: Any) -> list:
    if type(value) is not list:
        raise RecordError("malformed record: expected a list")
    return value


def _hashable(key: Any) -> Any:
    if isinstance(key, np.ndarray | list | dict):
        raise RecordError("unhashable dict key in a record")
    return key


def parse_records(text: str) -> dict[str, Any]:
    """The records of one probe output (JSON text), decoded.

    Raises:
        RecordError: the text is not a JSON object of records, repeats a key, or is too large.
    """
    if not isinstance(text, str) or len(text) > MAX_RECORD_CHARS:
        raise RecordError("the record output is missing or too large")

    def unique(pairs):
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise RecordError("a record key appears twice")
        return dict(pairs)

    try:
        raw = json.loads(text, object_pairs_hook=unique, parse_constant=_no_constant)
    except RecursionError:
        raise RecordError("record nested too deeply") from None
    except ValueError as err:
        raise RecordError(f"the record output is not valid JSON ({err})") from None
    if type(raw) is not dict:
        raise RecordError("the record output is not a JSON object")
    try:
        return {str(k): decode(v) for k, v in raw.items()}
    except RecursionError:
        raise RecordError("record nested too deeply") from None


def _no_constant(name: str):
    raise RecordError(f"bare {name} in a record")


def key(k: str | Sequence) -> str:
    """A record key as :class:`mbrl_helpers.grading.probe.Probe` writes it."""
    return k if isinstance(k, str) else json.dumps(list(k))


class Observations:
    """The decoded records of one test cell, and what the verdict knows of earlier cells."""

    def __init__(self, records: dict[str, Any], earlier: dict[str, bool] | None = None):
        self.records = records
        self.earlier = dict(earlier or {})
        self.prerequisites: list[tuple[str, tuple[str, ...]]] = []

    def __contains__(self, k) -> bool:
        return key(k) in self.records

    def __getitem__(self, k) -> Any:
        """The value recorded under ``k`` (a :class:`Raised` if the call raised)."""
        name = key(k)
        if name not in self.records:
            raise AssertionError(
                f"the test recorded no result for {name}: the cell stopped before it "
                "(see the error in the cell)")
        return self.records[name]

    def returned(self, k, call: str) -> Any:
        """What the call recorded under ``k`` returned; a failure if it raised."""
        value = self[k]
        if isinstance(value, Raised):
            raise AssertionError(f"{call} raised {value}")
        return value

    def raised(self, k) -> Raised | None:
        value = self[k]
        return value if isinstance(value, Raised) else None

    def builds_on(self, exercise: str, *cells: str) -> None:
        """Declare that this test uses the student's ``exercise`` (as its text says), graded
        in ``cells``: a failure then says so when one of those cells failed."""
        self.prerequisites.append((exercise, cells))

    def explain(self, message: str) -> str:
        """``message``, with a note naming each earlier exercise this one builds on that
        did not pass its own tests."""
        notes = [exercise if exercise.startswith("your ") else f"your {exercise}"
                 for exercise, cells in self.prerequisites
                 if any(self.earlier.get(c) is False for c in cells)]
        if notes:
            message += (" (This exercise uses " + " and ".join(notes)
                        + ", which did not pass its own tests: fix that first.)")
        return message


def number(value: Any, what: str, *, exact_type: type | None = None) -> float:
    """``value`` as a float: a Python or numpy number, a 0-d or one-element array.

    With ``exact_type`` (``float`` or ``int``), the value must be of that built-in type.
    """
    if exact_type is not None and type(value) is not exact_type:
        raise AssertionError(f"{what} must be a Python {exact_type.__name__}, "
                             f"got {_describe(value)}")
    arr = array(value, what)
    if arr.size != 1:
        raise AssertionError(f"{what} must be a single number, got shape {arr.shape}")
    return float(arr.reshape(-1)[0])


def array(value: Any, what: str, shape: Sequence[int] | None = None) -> np.ndarray:
    """``value`` as a float64 array (optionally of ``shape``), or a failure saying why not."""
    if isinstance(value, Foreign | Raised):
        raise AssertionError(f"{what} must be numeric, got {_describe(value)}")
    if isinstance(value, bool | np.bool_):
        raise AssertionError(f"{what} must be a number, got the bool {value}")
    return as_float_array(value, what, shape)


def _describe(value: Any) -> str:
    if isinstance(value, Foreign | Raised):
        return str(value)
    if isinstance(value, Tensor):
        return f"a torch tensor ({value.torch_dtype})"
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {value.shape}"
    return f"a {type(value).__name__} ({value!r})" if not isinstance(value, list | tuple | dict) \
        else f"a {type(value).__name__}"


def fmt(x: float) -> str:
    """A float printed with enough digits that two different values never look alike."""
    return repr(float(x))
