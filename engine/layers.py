"""Pack layers: finding the files of each layer folder and stacking the layers.

A pack is a list of folders (a vendor's base pack, then a commune's overlay). A later layer adds
items with new ids, replaces an item of the same id whole, removes one with ``disabled: true``,
and overrides portal settings key by key (themes merge by id). Every item keeps the file it
finally comes from and the history of the layers that touched it, for ``validate --explain``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import KeyPath, Problem
from engine.model import Source

# Root files of a layer and the schema kind of each.
ROOT_FILES = {
    "portal.yaml": "portal",
    "document-types.yaml": "document_types",
    "services.yaml": "services",
    "agendas.yaml": "agendas",
}
# Folders holding one item per file, and the kind of their files.
ITEM_FOLDERS = {"procedures": "procedure", "workflows": "workflow", "news": "news"}
# Mapping files hold items of this kind (the kind names used in provenance and problems).
MAPPING_ITEM_KIND = {
    "document_types": "document type",
    "services": "service",
    "agendas": "agenda",
}
IGNORED_ROOT = {"README.md", "LICENSE", "assets"}

# An action in an item's history: what a layer did to it.
ADDED, REPLACED, DISABLED = "added", "replaced", "disabled"
History = list[tuple[str, str, str]]  # (layer, file, action)


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One definition file of a layer."""

    kind: str  # schema kind: portal, document_types, ..., procedure, workflow, news
    path: Path
    display: str  # the name shown in problems (relative to the current directory)
    layer: str  # display name of the layer folder
    layer_path: Path


@dataclass(slots=True)
class LoadedFile:
    """A file after loading and schema checking: its data and the paths the schema rejected."""

    entry: FileEntry
    data: Any
    bad_paths: list[KeyPath] = field(default_factory=list)

    def valid_at(self, base: KeyPath) -> bool:
        """False when a schema problem lies inside ``base`` or above it."""
        for bad in self.bad_paths:
            n = min(len(bad), len(base))
            if bad[:n] == base[:n]:
                return False
        return True


@dataclass(slots=True)
class Item:
    """A layered item: its data, where it comes from, and whether its schema check passed."""

    kind: str  # procedure, workflow, news, document type, service, agenda, theme
    id: str
    data: dict[str, Any]
    entry: FileEntry
    base: KeyPath  # where the item sits in its file: () or (id,) or ("themes", index)
    valid: bool

    @property
    def source(self) -> Source:
        return Source(self.entry.display, self.entry.layer)


@dataclass(slots=True)
class Layered:
    """The result of stacking the layers, before cross-checks and compilation."""

    portal: dict[str, Any] | None = None
    portal_valid: bool = True
    # top-level portal key -> the file that set it last (problems about it point there)
    portal_keys: dict[str, FileEntry] = field(default_factory=dict)
    portal_entry: FileEntry | None = None
    items: dict[str, dict[str, Item]] = field(default_factory=dict)
    history: dict[tuple[str, str], History] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    layers: tuple[str, ...] = ()

    def of(self, kind: str) -> dict[str, Item]:
        return self.items.setdefault(kind, {})


def display_path(path: Path) -> str:
    """The path relative to the current directory when it lies below it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _child_name(parent: str, path: Path) -> str:
    # Joining names is much cheaper than resolving each of thousands of files.
    return f"{parent}/{path.name}" if parent != "." else path.name


def discover(layer: Path) -> tuple[list[FileEntry], list[Problem]]:
    """The definition files of one layer folder, and problems for missing or stray files."""
    name = display_path(layer)
    if not layer.is_dir():
        what = "is not a folder" if layer.exists() else "does not exist"
        hint = "give the folder holding portal.yaml and procedures/"
        return [], [Problem(name, 0, 0, f"layer folder '{name}' {what}", hint=hint)]
    files: list[FileEntry] = []
    problems: list[Problem] = []
    for path in sorted(layer.iterdir()):
        if path.name.startswith(".") or path.name in IGNORED_ROOT:
            continue
        if path.is_file() and path.name in ROOT_FILES:
            display = _child_name(name, path)
            files.append(FileEntry(ROOT_FILES[path.name], path, display, name, layer))
        elif path.is_dir() and path.name in ITEM_FOLDERS:
            found, stray = _folder_files(path, ITEM_FOLDERS[path.name], name, layer)
            files += found
            problems += stray
        else:
            problems.append(_stray(path, list(ROOT_FILES) + list(ITEM_FOLDERS)))
    return files, problems


def _folder_files(
    folder: Path, kind: str, layer_name: str, layer: Path
) -> tuple[list[FileEntry], list[Problem]]:
    files: list[FileEntry] = []
    problems: list[Problem] = []
    folder_name = _child_name(layer_name, folder)
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_file() and path.suffix == ".yaml":
            files.append(FileEntry(kind, path, _child_name(folder_name, path), layer_name, layer))
        else:
            problems.append(_stray(path, []))
    return files, problems


def _stray(path: Path, known: list[str]) -> Problem:
    shown = display_path(path)
    if path.is_dir():
        message, hint = f"unexpected folder '{shown}'", "definition folders hold files only"
    else:
        message = f"unexpected file '{shown}'"
        if path.suffix == ".yml":
            hint = f".yaml expected: rename it to {path.stem}.yaml"
        elif path.suffix != ".yaml":
            hint = ".yaml expected"
        else:
            close = difflib.get_close_matches(path.name, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "expected: " + ", ".join(known)
    return Problem(shown, 0, 0, message, hint=hint)


def stack(files: Sequence[LoadedFile], layers: Iterable[str]) -> Layered:
    """Stack the loaded files of every layer, in order, into one set of items."""
    out = Layered(layers=tuple(layers))
    seen_in_layer: dict[tuple[str, str, str], FileEntry] = {}
    for loaded in files:
        if not isinstance(loaded.data, dict):
            continue  # load or schema problems already reported
        kind = loaded.entry.kind
        if kind == "portal":
            _merge_portal(out, loaded)
        elif kind in MAPPING_ITEM_KIND:
            for item_id, data in loaded.data.items():
                if isinstance(item_id, str) and isinstance(data, dict):
                    item_kind = MAPPING_ITEM_KIND[kind]
                    _place(out, loaded, item_kind, item_id, data, (item_id,))
        else:
            item_id = _item_id(loaded)
            key = (loaded.entry.layer, kind, item_id)
            if key in seen_in_layer:
                _duplicate(out, loaded, kind, item_id, seen_in_layer[key])
                continue
            seen_in_layer[key] = loaded.entry
            _place(out, loaded, kind, item_id, loaded.data, ())
    return out


def _item_id(loaded: LoadedFile) -> str:
    given = loaded.data.get("id") if loaded.entry.kind == "procedure" else None
    return given if isinstance(given, str) and given else loaded.entry.path.stem


def _duplicate(out: Layered, loaded: LoadedFile, kind: str, item_id: str, first: FileEntry) -> None:
    path: KeyPath = ("id",) if "id" in loaded.data else ()
    out.problems.append(
        Problem(
            loaded.entry.display,
            0,
            0,
            f"{kind} id '{item_id}' is already used by {first.display}",
            path=path,
            hint="ids must be unique: change `id:` or the file name",
        )
    )


def _place(
    out: Layered, loaded: LoadedFile, kind: str, item_id: str, data: dict[str, Any], base: KeyPath
) -> None:
    items = out.of(kind)
    history = out.history.setdefault((kind, item_id), [])
    entry = loaded.entry
    if data.get("disabled") is True:
        if item_id not in items:
            out.problems.append(
                Problem(
                    entry.display,
                    0,
                    0,
                    f"cannot disable {kind} '{item_id}': no earlier layer defines it",
                    path=(*base, "disabled"),
                    hint="check the id, or remove this entry",
                )
            )
            if not history:
                del out.history[(kind, item_id)]
            return
        del items[item_id]
        history.append((entry.layer, entry.display, DISABLED))
        return
    action = REPLACED if item_id in items else ADDED
    valid = loaded.valid_at(base)
    items[item_id] = Item(kind, item_id, data, entry, base, valid)
    history.append((entry.layer, entry.display, action))


def _merge_portal(out: Layered, loaded: LoadedFile) -> None:
    data: dict[str, Any] = loaded.data
    entry = loaded.entry
    first = out.portal is None
    out.portal_valid = out.portal_valid and loaded.valid_at(())
    themes = data.get("themes")
    rest = {k: v for k, v in data.items() if k != "themes"}
    out.portal = deep_merge(out.portal or {}, rest)
    for key in data:
        out.portal_keys[key] = entry
    out.portal_entry = entry
    history = out.history.setdefault(("portal", "portal"), [])
    history.append((entry.layer, entry.display, ADDED if first else "overridden"))
    if isinstance(themes, list):
        for index, theme in enumerate(themes):
            if isinstance(theme, dict) and isinstance(theme.get("id"), str):
                _place(out, loaded, "theme", theme["id"], theme, ("themes", index))


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge recursively; any other value (lists included) is replaced whole."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
