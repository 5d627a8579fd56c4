"""The validation pipeline: discover, load, schema-check, layer, cross-check, compile.

Every problem of every file is reported in one run: a file whose schema check fails does not
stop the others, and cross-checks skip only the parts of an item whose own schema check failed
(``Item.ok``); references to the items of a file that could not be loaded are not reported. Problems
carry key paths until the end, when the files that have problems are read again with line marks
(``engine.yamlsafe.locate``): a valid pack never pays for marks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from engine import schema
from engine.compiler import compile_pack
from engine.crosscheck import Finding, check_pack
from engine.errors import DefinitionErrors, Problem
from engine.layers import (
    FileEntry,
    History,
    Layered,
    LoadedFile,
    discover,
    display_path,
    stack,
    unloaded_keys,
)
from engine.model import Pack
from engine.yamlsafe import load_yaml, locate, locate_value

Provenance = dict[tuple[str, str], History]  # (kind, id) -> [(layer, file, action)]
UNREADABLE_LAYER_KINDS = (
    "portal",
    "theme",
    "service",
    "document type",
    "agenda",
    "workflow",
    "procedure",
)


@dataclass
class Validation:
    """The outcome of validating a pack: the compiled pack when there is no problem."""

    pack: Pack | None
    problems: list[Problem] = field(default_factory=list)
    provenance: Provenance = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_layers(paths: Sequence[Path], *, root: Path | None = None) -> Validation:
    """Validate the layers ``paths`` (in order) and compile them when they have no problem.

    ``root``, when given, is the folder the layer paths are relative to.
    """
    layers = [root / p if root else Path(p) for p in paths]
    entries: list[FileEntry] = []
    problems: list[Problem] = []
    unloaded: set[tuple[str, str]] = set()
    for layer in layers:
        found, stray = discover(layer)
        entries += found
        problems += stray
        if stray and not found:
            # Missing, or not a layer: whatever it was meant to define is unknown, so nothing
            # is reported missing because of it (the one problem above says what to fix).
            unloaded.update((kind, "*") for kind in UNREADABLE_LAYER_KINDS)
    # Problems of loading have their line already (or concern the whole file); problems of
    # the schema, of layering and of cross-checks carry a key path to locate.
    keyed: list[Problem] = []
    loaded: list[LoadedFile] = []
    for entry in entries:
        one, load_problems = _load(entry)
        problems += load_problems
        if one is None:
            unloaded.update(unloaded_keys(entry))
            continue
        loaded.append(one)
        schema_problems, one.bad_paths = schema.check_with_scopes(
            entry.kind, one.data, entry.display
        )
        keyed += schema_problems
    layered = stack(loaded, [display_path(p) for p in layers])
    layered.unloaded = unloaded
    findings = [Finding(p) for p in keyed + layered.problems] + check_pack(layered)
    located = _locate(findings, {e.display: e.path for e in entries}) + problems
    located.sort(key=lambda p: (p.file, p.line, p.column, p.message))
    pack = compile_pack(layered) if not located else None
    return Validation(pack, located, dict(layered.history), _counts(layered))


def load_pack(paths: Sequence[Path]) -> Pack:
    """The compiled pack of the layers ``paths``; raises ``DefinitionErrors`` on any problem."""
    result = validate_layers(paths)
    if result.pack is None:
        raise DefinitionErrors(result.problems)
    return result.pack


def _load(entry: FileEntry) -> tuple[LoadedFile | None, list[Problem]]:
    try:
        data = load_yaml(entry.path, entry.display)
    except DefinitionErrors as exc:
        return None, exc.problems
    if data is None:
        hint = "remove the file, or write `disabled: true` to remove an item of an earlier layer"
        return None, [Problem(entry.display, 0, 0, "the file is empty", hint=hint)]
    return LoadedFile(entry, data), []


def _locate(findings: list[Finding], files: dict[str, Path]) -> list[Problem]:
    out: list[Problem] = []
    for problem, value_column in findings:
        path = files.get(problem.file)
        if problem.line or path is None:
            out.append(problem)
            continue
        out.append(_with_position(problem, path, value_column))
    unique = {(p.file, p.line, p.column, p.message): p for p in out}
    return list(unique.values())


def _with_position(problem: Problem, path: Path, value_column: int) -> Problem:
    try:
        if value_column:
            line, column, offset = locate_value(path, problem.path)
            if offset >= 0:
                column += offset + value_column - 1
        else:
            line, column = locate(path, problem.path)
    except (OSError, ValueError, yaml.YAMLError):  # the file changed or vanished meanwhile
        return problem
    return Problem(
        problem.file, line, column, problem.message, problem.path, problem.hint, problem.severity
    )


def _counts(layered: Layered) -> dict[str, int]:
    news = layered.of("news").values()
    return {
        "procedures": len(layered.of("procedure")),
        "themes": len(layered.of("theme")),
        "document_types": len(layered.of("document type")),
        "agendas": len(layered.of("agenda")),
        "news": sum(1 for n in news if n.data.get("kind", "news") == "news"),
        "info": sum(1 for n in news if n.data.get("kind") == "info"),
        "services": len(layered.of("service")),
        "workflows": len(layered.of("workflow")),
    }
