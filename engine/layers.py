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
        return not self.bad_under(base)

    def bad_under(self, base: KeyPath) -> tuple[KeyPath, ...]:
        """The paths of schema problems inside ``base`` (relative to it) or above it (``()``)."""
        return tuple(bad[len(base) :] for bad in self.bad_paths if _overlaps(bad, base))


def _overlaps(one: KeyPath, other: KeyPath) -> bool:
    """One path lies inside the other (or they are equal)."""
    n = min(len(one), len(other))
    return one[:n] == other[:n]


@dataclass(slots=True)
class Item:
    """A layered item: its data, where it comes from, and where its schema check failed."""

    kind: str  # procedure, workflow, news, document type, service, agenda, theme
    id: str
    data: dict[str, Any]
    entry: FileEntry
    base: KeyPath  # where the item sits in its file: () or (id,) or ("themes", index)
    bad: tuple[KeyPath, ...] = ()  # paths (relative to the item) of its schema problems

    @property
    def valid(self) -> bool:
        return not self.bad

    def ok(self, *path: str | int) -> bool:
        """True when no schema problem lies at ``path`` of the item, inside it or above it.

        Cross-checks run on the well-formed parts of an item whose schema check failed.
        """
        return not any(_overlaps(bad, path) for bad in self.bad)

    @property
    def source(self) -> Source:
        return Source(self.entry.display, self.entry.layer)


@dataclass(slots=True)
class Layered:
    """The result of stacking the layers, before cross-checks and compilation."""

    portal: dict[str, Any] | None = None
    # paths of the schema problems of every portal.yaml (a merged key is checked only when
    # no layer has a problem at it)
    portal_bad: list[KeyPath] = field(default_factory=list)
    # portal key -> the file that set it last (problems about it point there); the keys of
    # a mapping are also recorded as "mapping.key" ("colours.primary")
    portal_keys: dict[str, FileEntry] = field(default_factory=dict)
    portal_entry: FileEntry | None = None
    items: dict[str, dict[str, Item]] = field(default_factory=dict)
    history: dict[tuple[str, str], History] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    layers: tuple[str, ...] = ()
    # (kind, id) of the files that could not be loaded ((kind, "*") for a file of many
    # items): references to them wait for a second run instead of being reported unknown
    unloaded: set[tuple[str, str]] = field(default_factory=set)

    def of(self, kind: str) -> dict[str, Item]:
        return self.items.setdefault(kind, {})

    def portal_ok(self, *path: str | int) -> bool:
        """True when no portal.yaml has a schema problem at ``path``, inside or above it."""
        return not any(_overlaps(bad, path) for bad in self.portal_bad)

    def not_loaded(self, kind: str, item_id: str) -> bool:
        """The item's file, or the file holding items of its kind, could not be loaded."""
        return (kind, item_id) in self.unloaded or (kind, "*") in self.unloaded


def unloaded_keys(entry: FileEntry) -> list[tuple[str, str]]:
    """What a file that could not be loaded may have defined (see ``Layered.unloaded``)."""
    if entry.kind == "portal":
        return [("portal", "*"), ("theme", "*")]
    if entry.kind in MAPPING_ITEM_KIND:
        return [(MAPPING_ITEM_KIND[entry.kind], "*")]
    return [(entry.kind, entry.path.stem)]


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
    children = [p for p in sorted(layer.iterdir()) if not _ignored(p)]
    if children and not any(_known(p) for p in children):
        return [], [_not_a_layer(layer, name)]
    for path in children:
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


def _ignored(path: Path) -> bool:
    return path.name.startswith(".") or path.name in IGNORED_ROOT


def _known(path: Path) -> bool:
    return path.name in ROOT_FILES or (path.name in ITEM_FOLDERS and path.is_dir())


def _not_a_layer(layer: Path, name: str) -> Problem:
    """One problem for a folder that holds none of a layer's files (instead of one per file)."""
    names = [*ROOT_FILES, *(f"{folder}/" for folder in ITEM_FOLDERS)]
    message = f"'{name}' is not a pack layer: it has no {', '.join(names[:-1])} or {names[-1]}"
    parent = layer.resolve().parent
    if any(_known(p) for p in parent.iterdir()):
        hint = f"did you mean '{display_path(parent)}'?"
    else:
        hint = "give the folder holding portal.yaml and procedures/"
    return Problem(name, 0, 0, message, hint=hint)


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
        _extra_keys(out, loaded, data, base)
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
    items[item_id] = Item(kind, item_id, data, entry, base, loaded.bad_under(base))
    history.append((entry.layer, entry.display, action))


def _extra_keys(out: Layered, loaded: LoadedFile, data: dict[str, Any], base: KeyPath) -> None:
    """A disabled item holds nothing else: more keys usually mean a replacement was meant."""
    extra = [str(k) for k in data if k not in ("disabled", "id")]
    if not extra:
        return
    names = ", ".join(f"'{k}'" for k in extra[:3])
    if len(extra) > 3:
        names += f" and {len(extra) - 3} other key{'s' if len(extra) > 4 else ''}"
    out.problems.append(
        Problem(
            loaded.entry.display,
            0,
            0,
            f"a disabled item holds only `disabled: true`; remove {names}",
            path=(*base, extra[0]),
            hint="to replace the item instead, remove `disabled: true`",
        )
    )


def _merge_portal(out: Layered, loaded: LoadedFile) -> None:
    data: dict[str, Any] = loaded.data
    entry = loaded.entry
    first = out.portal is None
    out.portal_bad += loaded.bad_paths
    themes = data.get("themes")
    rest = {k: v for k, v in data.items() if k != "themes"}
    out.portal = deep_merge(out.portal or {}, rest)
    for key, value in data.items():
        out.portal_keys[key] = entry
        for sub in value if isinstance(value, dict) else ():
            out.portal_keys[f"{key}.{sub}"] = entry
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
