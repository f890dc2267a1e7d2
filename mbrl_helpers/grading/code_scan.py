"""Static scan of a submission's own code for the building blocks of grader attacks.

The scan reads (never runs) every code cell the student wrote or added, and flags
constructs that a course notebook never needs but attacks on an in-kernel grader do:
replacing functions of numpy/math/torch/builtins/mbrl_helpers, rigged comparison dunders,
introspection of frames, closures and the garbage collector, process and signal control,
file and database access. A flag does not change a score: it tells the TA where to look.
"""

from __future__ import annotations

import ast

import nbformat

PROTECTED_ROOTS = {"numpy", "np", "math", "torch", "builtins", "__builtins__", "mbrl_helpers",
                   "sys", "os", "gymnasium", "gym"}
SUSPICIOUS_NAMES = {
    "setattr": "setattr()", "delattr": "delattr()", "exec": "exec()", "eval": "eval()",
    "compile": "compile()", "__import__": "__import__()", "open": "open()",
    "globals": "globals()", "get_ipython": "get_ipython()", "__builtins__": "__builtins__",
}
SUSPICIOUS_MODULES = {
    "builtins", "gc", "ctypes", "inspect", "importlib", "threading", "_thread", "signal",
    "subprocess", "multiprocessing", "resource", "sqlite3", "nbformat", "nbgrader", "glob",
    "pathlib", "shutil", "atexit", "weakref", "pty", "socket",
}
SUSPICIOUS_ATTRS = {
    "__closure__", "__globals__", "__code__", "__dict__", "__class__", "__subclasses__",
    "_exit", "kill", "killpg", "fork", "system", "listdir", "walk", "scandir",
    "settrace", "setprofile", "addaudithook", "modules", "read_text", "f_back", "f_globals",
}
RIGGED_DUNDERS = {"__eq__", "__ne__", "__array__", "__float__", "__bool__", "__array_ufunc__",
                  "__array_function__", "__instancecheck__", "__index__", "__len__",
                  "__getattribute__", "__torch_function__"}


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def scan_source(source: str) -> list[str]:
    """Flags for one cell's source (``[]`` when it does not parse: the run will show why)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    flags: list[str] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                if isinstance(target, (ast.Attribute, ast.Subscript)):
                    root = _root_name(target)
                    if root in PROTECTED_ROOTS:
                        flags.append(f"line {line}: replaces {ast.unparse(target)}")
        elif isinstance(node, ast.Name) and node.id in SUSPICIOUS_NAMES:
            flags.append(f"line {line}: uses {SUSPICIOUS_NAMES[node.id]}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names]
            for name in names:
                if name.split(".")[0] in SUSPICIOUS_MODULES:
                    flags.append(f"line {line}: imports {name}")
        elif isinstance(node, ast.Attribute) and node.attr in SUSPICIOUS_ATTRS:
            flags.append(f"line {line}: uses .{node.attr}")
        elif isinstance(node, ast.FunctionDef) and node.name in RIGGED_DUNDERS:
            flags.append(f"line {line}: defines {node.name}")
    return list(dict.fromkeys(flags))


def scan_submission(submitted: nbformat.NotebookNode, source: nbformat.NotebookNode) -> list[str]:
    """Flags for every code cell of ``submitted`` that is not a verbatim instructor cell."""
    instructor = {cell.source.strip() for cell in source.cells if cell.cell_type == "code"}
    flags = []
    for index, cell in enumerate(submitted.cells):
        if cell.cell_type != "code" or cell.source.strip() in instructor:
            continue
        label = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"cell {index}"
        flags += [f"{label} {flag}" for flag in scan_source(cell.source)]
    return flags
