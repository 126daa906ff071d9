"""The house rules that code review alone would let slip: which room may import which (one direction of data
flow, docs/design.md "Rooms"), and one root for every expected error."""

from __future__ import annotations

import ast
from pathlib import Path

import nas_edge

PACKAGE = Path(nas_edge.__file__).parent
# helpers every room may use; they import no room
LEAVES = {"<root>", "_io", "_json", "_ort", "_progress", "_text", "errors"}
LOW = LEAVES | {"hardware", "workload"}
# what each room may import (besides itself); a new room is added here and in docs/design.md
ALLOWED: dict[str, set[str]] = {
    **{leaf: set() for leaf in LEAVES - {"<root>"}},
    "hardware": LEAVES,
    "workload": LEAVES,
    "cost": LOW,
    "spaces": LOW,
    "models": LOW,
    "evaluate": LEAVES,
    "analog": LOW | {"evaluate"},
    "supernet": LOW | {"spaces", "evaluate", "analog"},
    "samplers": LEAVES,
    "workers": LEAVES,
    "profiling": LOW | {"cost"},
    "testing": LOW | {"cost", "spaces"},
    "search": LOW | {"cost", "spaces", "evaluate", "analog", "samplers", "workers", "models"},
    "dnas": LOW | {"cost", "spaces", "evaluate", "search"},
    "export": LOW | {"cost", "spaces", "evaluate", "analog", "search", "profiling", "models", "supernet"},
    "bench": LOW | {"cost", "spaces", "samplers", "search", "export"},
    "cli": LOW | {"cost", "spaces", "evaluate", "analog", "search", "profiling", "export", "models", "samplers",
                  "bench", "supernet"},
    "__main__": {"cli"},
    "demo": LOW | {"cost", "spaces", "evaluate", "search", "export", "cli"},
}
# the deprecated alias of the screening glue's old home: imports search/ only when imported itself
EXCEPTIONS = {("samplers/nas_glue.py", "search")}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "<root>"


def _imports(path: Path, module: str) -> set[str]:
    """Every nas_edge module ``path`` imports, at any depth (function-level imports count too)."""
    out: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                out.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                out.add(node.module)
    return {m for m in out if m == "nas_edge" or m.startswith("nas_edge.")}


def _edges() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        module = ".".join(("nas_edge", *rel.with_suffix("").parts)).removesuffix(".__init__")
        for target in _imports(path, module):
            if _room(target) != _room(module):
                found.append((rel.as_posix(), _room(module), _room(target)))
    return found


def test_rooms_import_only_downwards() -> None:
    edges = _edges()
    assert edges, "the import scan found nothing: it is broken"
    unknown = sorted({room for _, room, _ in edges} - set(ALLOWED))
    assert not unknown, f"new rooms {unknown}: add them to ALLOWED here and to docs/design.md"
    wrong = [f"{file}: {room} -> {target}" for file, room, target in edges
             if target not in ALLOWED[room] and (file, target) not in EXCEPTIONS]
    assert not wrong, "imports against the data flow:\n" + "\n".join(wrong)


def test_the_scan_sees_relative_and_function_level_imports() -> None:
    edges = {(f, t) for f, _, t in _edges()}
    assert ("search/run.py", "workers") in edges  # imported inside a function
    assert ("samplers/nas_glue.py", "search") in edges  # the one allowed exception is seen, so it is real


def test_generic_rooms_never_import_the_orchestration() -> None:
    """The rule the brief states in words: samplers, cost, hardware, workload never reach up."""
    top = {"search", "cli", "export", "demo"}
    for room in ("samplers", "cost", "hardware", "workload"):
        assert not ALLOWED[room] & top


def test_the_design_is_in_the_repository() -> None:
    """Code and README cite docs/design.md, which a clone has, never a file outside the project."""
    root = PACKAGE.parent
    assert (root / "docs" / "design.md").is_file()
    outside = "shared/" + "DESIGN"
    files = [root / "README.md", *root.glob("docs/*.md"), *PACKAGE.rglob("*.py"), *(root / "tests").glob("*.py"),
             *(root / "benchmarks").glob("*.*"), *(root / "examples").glob("*.py")]
    citing = [str(f.relative_to(root)) for f in files if f.is_file() and outside in f.read_text(errors="ignore")]
    assert not citing, f"cite docs/design.md instead: {citing}"
