"""The package layout follows the pipeline: imports run one way only, and no module circle exists.

Order (lower imports nothing above it): errors < atomic_files, version, brats, yaml_dataclasses < config < data <
models, losses < metrics, runs, device, distributed, plots < infer < evaluation < train < study < cli, api < the
package facade. The trainer calls evaluation (validation scores cached cases), never the reverse, as in nnU-Net.
Same-rank packages may not import each other; every import counts, also one inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "brats_unet"
RANKS = {
    "errors": 0, "atomic_files": 1, "version": 1, "brats": 1, "yaml_dataclasses": 1, "config": 2, "data": 3,
    "models": 4, "losses": 4, "metrics": 5, "runs": 5, "device": 5, "distributed": 5, "plots": 5, "infer": 6,
    "evaluation": 7, "train": 8,
    "study": 9, "cli": 10, "api": 10, "__init__": 11, "__main__": 11,
}


def module_name(root: Path, path: Path) -> str:
    """``data/cache.py`` -> ``data.cache``; ``data/__init__.py`` -> ``data``; ``__init__.py`` -> ``__init__``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(root: Path, path: Path, package: str) -> set[str]:
    """Modules of the package that ``path`` imports (relative or absolute, at any depth in the file)."""
    mod = module_name(root, path)
    here = mod.split(".") if path.name == "__init__.py" and mod != "__init__" else mod.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
            elif node.module and node.module.split(".")[0] == package:
                base, node.module = [], node.module.partition(".")[2] or None
            else:
                continue
            target = base + (node.module.split(".") if node.module else [])
            for alias in node.names:  # `from . import commands` names a module; `from .x import f` a name
                sub = ".".join(target + [alias.name])
                found.add(sub if (root / Path(*target, alias.name)).with_suffix(".py").exists() or
                          (root / Path(*target, alias.name)).is_dir() else ".".join(target) or "__init__")
        elif isinstance(node, ast.Import):
            found |= {a.name.partition(".")[2] or "__init__" for a in node.names if a.name.split(".")[0] == package}
    return found


def graph(root: Path, package: str = "brats_unet") -> dict[str, set[str]]:
    return {module_name(root, p): imports_of(root, p, package) for p in sorted(root.rglob("*.py"))}


def back_imports(edges: dict[str, set[str]], ranks: dict[str, int]) -> list[str]:
    """Imports that run against the order, or sideways between different packages of one rank."""
    bad = []
    for src, targets in edges.items():
        for dst in targets:
            a, b = src.split(".")[0], dst.split(".")[0]
            if a != b and ranks[b] >= ranks[a]:
                bad.append(f"{src} -> {dst} ({a} rank {ranks[a]} may not import {b} rank {ranks[b]})")
    return sorted(bad)


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), i.e. import circles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_every_package_has_a_rank():
    tops = {module_name(SRC, p).split(".")[0] for p in SRC.rglob("*.py")}
    assert tops <= set(RANKS), f"unranked: {sorted(tops - set(RANKS))}"


def test_imports_run_one_way():
    assert back_imports(graph(SRC), RANKS) == []


def test_no_import_circles():
    assert circles(graph(SRC)) == []


@pytest.fixture
def toy(tmp_path):
    """A tiny package: config imports data (a back import), data/a and data/b import each other."""
    root = tmp_path / "brats_unet"
    (root / "data").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "config.py").write_text("def f():\n    from .data import a\n")
    (root / "data" / "__init__.py").write_text("")
    (root / "data" / "a.py").write_text("from . import b\nfrom ..config import X\n")
    (root / "data" / "b.py").write_text("from brats_unet.data.a import g\n")
    return root


def test_checker_reports_a_lazy_back_import(toy):
    assert back_imports(graph(toy), RANKS) == ["config -> data.a (config rank 2 may not import data rank 3)"]


def test_checker_reports_a_circle(toy):
    assert circles(graph(toy)) == [["config", "data.a", "data.b"]]


REPO = SRC.parents[1]


def test_evaluation_imports_nothing_from_train():
    edges = graph(SRC)
    assert sorted(f"{s} -> {d}" for s, ds in edges.items() if s.startswith("evaluation") for d in ds
                  if d.startswith("train")) == []


def test_benchmarks_are_performance_only():
    """No benchmark script runs a study or an evaluation, and none imports another by its bare name (the shared
    helpers are common.py and workloads.py, which are no scripts)."""
    scripts = sorted((REPO / "benchmarks").glob("*.py"))
    names = {p.stem for p in scripts} - {"common", "workloads"}
    for path in scripts:
        tree = ast.parse(path.read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | \
            {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not imported & names, f"{path.name} imports another script: {sorted(imported & names)}"
        assert not {m for m in imported if m.startswith(("brats_unet.study", "brats_unet.evaluation.evaluate"))}, \
            f"{path.name} runs an experiment: studies live in studies/<name>/"


def test_every_study_folder_holds_its_inputs_and_says_how_it_ran():
    from brats_unet.study.spec import load_study

    folders = sorted(p for p in (REPO / "studies").iterdir() if p.is_dir())
    assert folders
    for folder in folders:
        assert (folder / "study.yaml").exists() or (folder / "README.md").exists(), folder.name
        if (folder / "study.yaml").exists():
            load_study(folder / "study.yaml")
    assert not list((REPO / "studies").glob("*.yaml")), "a study is a folder: studies/<name>/study.yaml"
