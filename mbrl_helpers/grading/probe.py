"""The kernel's half of a graded test: record what the student's code does, decide nothing.

A graded test cell *probes* the student's functions and records raw observations: what a
call returned or raised, an input after the call, what a callable the test passed in saw.
The records leave the kernel as one output of the test cell with the MIME type
:data:`MIME`; the cell's *verdict* (:mod:`mbrl_helpers.grading.verdicts`) reads them in the
grader's own process and decides the points. Nothing here compares anything: the student's
code runs in this interpreter and could rig any comparison made in it.

A test author writes::

    probe = Probe()  # (imported from this module)
    for T in [1, 2, 7]:
        probe.call(("G", T), discounted_return, np.ones(T), gamma=0.5)
    probe.send()

Records are plain data: JSON numbers, strings and lists, and tagged objects for what JSON
lacks (tuples, dicts with any keys, non-finite floats, numpy and torch arrays as dtype,
shape and base64 bytes, exceptions as the names of their classes, anything else as its type
name). A value is read through the built-in types' own methods, so an object that overrides
``__eq__``, ``__float__`` or ``tolist`` cannot change what is recorded about it.

Outside ``mbrl-course autograde`` nothing is sent; under plain ``nbgrader autograde`` a
probe fails its cell, because no verdict would judge it there.
"""

from __future__ import annotations

import base64
import itertools
import json
import os

#: The MIME type of a test cell's record output.
MIME = "application/vnd.mbrl.probe+json"
#: Set in the environment of every kernel ``mbrl-course autograde`` starts.
GRADING_VAR = "MBRL_PROBE_SEND"
#: Depth and length limits of one recorded value (deeper or longer parts are cut).
MAX_DEPTH = 12
MAX_ITEMS = 100_000
MAX_TEXT = 2_000
NOT_GRADED_HERE = (
    "This course is graded with `mbrl-course autograde` (see the README's TA section): "
    "plain `nbgrader autograde` cannot judge this test, so it gives it no points.")


def _type_name(value) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _bytes(array) -> dict:
    import numpy as np

    shape = list(np.shape(array))  # before ascontiguousarray, which makes a 0-d array 1-d
    array = np.ascontiguousarray(array)
    if array.dtype.kind not in "biufc":
        return {"$seq": [encode(x, 1) for x in array.ravel().tolist()[:MAX_ITEMS]],
                "shape": shape, "dtype": str(array.dtype)}
    return {"dtype": array.dtype.str, "shape": shape,
            "b64": base64.b64encode(array.tobytes()).decode("ascii")}


def _array(value) -> dict | None:
    """numpy arrays and scalars, torch tensors; None for anything else."""
    import sys

    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray):
        return {"$nd": _bytes(np.ndarray.view(value, np.ndarray)), "type": _type_name(value)}
    if np is not None and isinstance(value, np.generic):
        return {"$np": _bytes(np.asarray(value)), "type": _type_name(value)}
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        data = torch.Tensor.detach(value).cpu()
        if data.dtype == torch.bfloat16:
            data = data.float()
        return {"$torch": _bytes(data.numpy()), "dtype": str(value.dtype),
                "requires_grad": bool(value.requires_grad), "type": _type_name(value)}
    return None


def encode(value, depth: int = 0):  # noqa: C901 - one branch per kind of value
    """``value`` as plain, JSON-serialisable data (see the module docstring)."""
    if depth > MAX_DEPTH:
        return {"$cut": "too deep"}
    kind = type(value)
    if value is None or kind is bool or kind is str and len(value) <= MAX_TEXT:
        return value
    if kind is str:
        return {"$str": str.__getitem__(value, slice(0, MAX_TEXT)), "cut": True}
    if kind is int:
        return value if abs(value) < 2**63 else {"$int": int.__repr__(value)[:MAX_TEXT]}
    if kind is float:
        return value if value - value == 0 else {"$float": float.__repr__(value)}
    array = _array(value)  # numpy scalars subclass float and int: read them as numpy's
    if array is not None:
        return array
    if isinstance(value, bool | int | float | str):  # a subclass: its built-in value
        read = int.__int__ if isinstance(value, int) else (
            float.__float__ if isinstance(value, float) else str.__str__)
        return {"$sub": _type_name(value), "value": encode(read(value), depth + 1)}
    if kind is list or kind is tuple:
        each = list.__iter__ if kind is list else tuple.__iter__
        items = [encode(x, depth + 1) for x in itertools.islice(each(value), MAX_ITEMS)]
        return items if kind is list else {"$tuple": items}
    if kind is dict:
        pairs = [[encode(k, depth + 1), encode(v, depth + 1)]
                 for k, v in list(dict.items(value))[:MAX_ITEMS]]
        return {"$dict": pairs}
    if isinstance(value, BaseException):
        return {"$raised": [c.__name__ for c in kind.__mro__], "message": _text(value)}
    return {"$obj": _type_name(value)}


def _text(error: BaseException) -> str:
    try:
        return str(error)[:MAX_TEXT]
    except Exception:  # noqa: BLE001 - a student's exception with a broken __str__
        return "(message unreadable)"


class Probe:
    """The records of one graded test cell (see the module docstring)."""

    def __init__(self) -> None:
        self.records: dict[str, object] = {}
        self.sent = False

    @staticmethod
    def key(key) -> str:
        """A record's key: a string, or a tuple of strings and numbers joined as JSON."""
        return key if isinstance(key, str) else json.dumps(list(key))

    def record(self, key, value) -> None:
        """Record ``value`` (see :func:`encode`) under ``key``; a key is recorded once."""
        name = self.key(key)
        if name in self.records:
            raise KeyError(f"probe key recorded twice: {name}")
        try:
            self.records[name] = encode(value)
        except Exception as err:  # noqa: BLE001 - a value whose methods raise
            self.records[name] = {"$unreadable": _type_name(value), "error": _text(err)}

    def call(self, key, fn, *args, **kwargs):
        """Call ``fn(*args, **kwargs)``; record what it returned, or the exception it raised
        (``{"$raised": [class names], "message": ...}``). Returns the value, or None.

        Outside grading, a ``NotImplementedError`` (an exercise not done yet) propagates, so
        a student running the test cell sees it rather than a check failing on None."""
        try:
            value = fn(*args, **kwargs)
        except NotImplementedError:
            if os.environ.get(GRADING_VAR) != "1":
                raise  # a student running a test on an unfinished exercise: say so plainly
            self.record(key, NotImplementedError())
            return None
        except Exception as err:  # noqa: BLE001 - the student's exception is an observation
            self.record(key, err)
            return None
        self.record(key, value)
        return value

    def send(self) -> None:
        """Send the records to the grader (only in a kernel ``mbrl-course autograde`` runs)."""
        if self.sent:
            raise RuntimeError("a probe sends its records once")
        self.sent = True
        if os.environ.get(GRADING_VAR) == "1":
            from IPython.display import display

            display({MIME: json.dumps(self.records, allow_nan=False)}, raw=True)
        elif os.environ.get("NBGRADER_EXECUTION") == "autograde":
            raise RuntimeError(NOT_GRADED_HERE)
