"""Safe YAML loading: C loader, safe tags only, size and alias limits, no implicit dates.

Definitions come from git repositories edited by people we trust a little, and from vendors we
trust less: a file must never run code, eat the memory of the portal (billion laughs) or take
seconds to load. Every failure becomes a ``Problem`` with the line of the offending character.

Line marks are kept off the happy path: ``load_yaml`` builds plain Python objects, and only the
files that have problems are read again by ``locate`` to turn a key path into a line.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, ClassVar

import yaml

from engine.errors import DefinitionErrors, KeyPath, Problem

MAX_BYTES = 512 * 1024
MAX_ALIASES = 100
MAX_EXPANDED_NODES = 100_000

_BaseLoader: type[yaml.SafeLoader]
try:
    _BaseLoader = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
# An anchor (`&name`) after a space, a bracket, a comma, a dash or a line start; `R&D` is none.
_ANCHOR = re.compile(r"(?:^|[\s\[{,:-])&[^\s]", re.MULTILINE)
_TAG_PREFIX = "tag:yaml.org,2002:"


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader without the timestamp resolver: `2026-05-01` stays the string it looks like."""

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {
        first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP]
        for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # PyYAML keeps the last of two equal keys without a word; a duplicated `required:` in
        # a field would silently win, so duplicates are errors, reported at the second key.
        # Fewer keys than pairs is the cheap sign; only then look for the culprit.
        pairs = len(node.value)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep)
        if len(mapping) < pairs:
            _raise_duplicate(node)
        return mapping


# Longer integers are no setting of a town hall; past 4300 digits Python refuses to read them.
MAX_DIGITS = 100


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> object:
    if len(node.value) > MAX_DIGITS:
        raise _LongNumber(node)
    return loader.construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


class _LongNumber(Exception):
    def __init__(self, node: yaml.Node) -> None:
        super().__init__(len(node.value))
        self.node = node


def _raise_duplicate(node: yaml.MappingNode) -> None:
    seen: set[str] = set()
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            if key_node.value in seen:
                raise _DuplicateKey(key_node)
            seen.add(key_node.value)


class _DuplicateKey(Exception):
    def __init__(self, key_node: yaml.Node) -> None:
        super().__init__(key_node.value)
        self.node = key_node


def load_yaml(path: Path, display_name: str, *, max_bytes: int = MAX_BYTES) -> object:
    """Parse one definition file into plain Python objects.

    Raises ``DefinitionErrors`` (one problem) when the file is too large, is not UTF-8, is not
    valid YAML, uses a non-standard tag, has a duplicated key or an abusive use of aliases.
    An empty file gives ``None``.
    """
    size = path.stat().st_size
    if size > max_bytes:
        raise _error(
            display_name,
            0,
            0,
            f"file is {_kib(size)} KiB, more than the limit of {_kib(max_bytes)} KiB",
            "split it into smaller files",
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _error(display_name, line, 0, "file is not valid UTF-8", "save it as UTF-8") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        # No anchor, no alias: skip the graph walk on the usual file (`&` first: a C-speed scan).
        if "&" in text and _ANCHOR.search(text):
            _check_aliases(node, display_name)
        return loader.construct_document(node)
    except _DuplicateKey as exc:
        mark = exc.node.start_mark
        raise _error(
            display_name,
            mark.line + 1,
            mark.column + 1,
            f"duplicate key '{exc.node.value}'",
            "each key may appear once in a mapping; remove or rename one of them",
        ) from None
    except _LongNumber as exc:
        mark = exc.node.start_mark
        digits = sum(c.isdigit() for c in exc.node.value)
        message = f"number of {digits} digits is too long"
        hint = f"write at most {MAX_DIGITS} digits, or quote it to make it a text"
        raise _error(display_name, mark.line + 1, mark.column + 1, message, hint) from None
    except yaml.constructor.ConstructorError as exc:
        raise _constructor_problem(exc, display_name) from None
    except yaml.MarkedYAMLError as exc:
        raise _syntax_problem(exc, display_name, text) from None
    except yaml.YAMLError as exc:  # e.g. a reader error on a control character
        raise _error(display_name, 0, 0, f"invalid YAML: {exc}", "") from None
    finally:
        loader.dispose()


def _kib(size: int) -> str:
    return f"{size / 1024:.0f}"


def _error(file: str, line: int, column: int, message: str, hint: str) -> DefinitionErrors:
    return DefinitionErrors([Problem(file, line, column, message, hint=hint)])


def _check_aliases(root: yaml.Node, file: str) -> None:
    """Reject many aliases, recursive ones, and graphs whose expansion would be huge.

    Composed nodes share aliased subtrees, so this walk costs the size of the file, never the
    size of the expansion; expansion sizes are memoised per node.
    """
    aliases = 0
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def expanded(node: yaml.Node) -> int:
        nonlocal aliases
        key = id(node)
        if key in sizes:
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _alias_error(file, node, f"more than {MAX_ALIASES} YAML aliases")
            return sizes[key]
        if key in in_progress:
            raise _alias_error(file, node, "a YAML alias refers to itself")
        in_progress.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += expanded(child)
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                total += expanded(key_node) + expanded(value_node)
        if total > MAX_EXPANDED_NODES:
            raise _alias_error(
                file, node, f"YAML aliases expand to more than {MAX_EXPANDED_NODES} nodes"
            )
        in_progress.discard(key)
        sizes[key] = total
        return total

    expanded(root)


def _alias_error(file: str, node: yaml.Node, message: str) -> DefinitionErrors:
    mark = node.start_mark
    return _error(
        file,
        mark.line + 1,
        mark.column + 1,
        message,
        "definitions do not need anchors and aliases (&, *): write the values out",
    )


def _constructor_problem(exc: yaml.constructor.ConstructorError, file: str) -> DefinitionErrors:
    mark = exc.problem_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    found = re.search(r"for the tag '([^']*)'", exc.problem or "")
    if found:
        tag = found.group(1)
        if tag.startswith(_TAG_PREFIX):
            tag = "!!" + tag[len(_TAG_PREFIX) :]
        return _error(
            file,
            line,
            column,
            f"unsupported tag '{tag}'",
            "only plain YAML values are allowed: remove the tag",
        )
    return _error(file, line, column, f"invalid YAML: {exc.problem}", "")


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str, text: str) -> DefinitionErrors:
    mark = exc.problem_mark or exc.context_mark
    if "quoted scalar" in (exc.context or "") and exc.context_mark:
        mark = exc.context_mark  # where the quote opens, not the end of the file
    line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    problem = exc.problem or "invalid YAML"
    message = f"invalid YAML: {problem}"
    if exc.context:
        message += f" {exc.context}"
    lines = text.splitlines()
    hashed = _hash_value(exc, lines)
    if hashed:
        line, column, value = hashed
        return _error(file, line, column, message, _hash_hint(value))
    bad_line = lines[line - 1] if 0 < line <= len(lines) else ""
    return _error(file, line, column, message, _syntax_hint(exc, bad_line))


# `key: #value` inside braces or brackets: the `#` starts a comment, which eats the closing
# brace; the parser then fails on a later line. The line to show is the one of the `#`.
_HASH_VALUE = re.compile(r":\s+(#[^\s,}\]]*)")
# The same after an opening brace or bracket on the line, when the parser's marks do not say
# where the flow started (it may report the end of the file).
_FLOW_HASH = re.compile(r"[{\[][^#]*?:\s+(#[^\s,}\]]*)")
_COLOUR = re.compile(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?")


def _hash_value(exc: yaml.MarkedYAMLError, lines: list[str]) -> tuple[int, int, str] | None:
    """(line, column, value) of an unquoted value starting with `#` in the failing flow."""
    if "flow" not in (exc.context or "") or exc.context_mark is None or exc.problem_mark is None:
        return None
    last = min(exc.problem_mark.line, len(lines) - 1)
    for number in range(exc.context_mark.line, last + 1):
        found = _HASH_VALUE.search(lines[number])
        if found:
            return number + 1, found.start(1) + 1, found.group(1)
    for number in range(last, -1, -1):
        found = _FLOW_HASH.search(lines[number])
        if found:
            return number + 1, found.start(1) + 1, found.group(1)
    return None


def _hash_hint(value: str) -> str:
    what = "the colour" if _COLOUR.fullmatch(value) else "the value"
    return f'a # starts a comment in YAML: quote {what}, "{value}"'


def _syntax_hint(exc: yaml.MarkedYAMLError, bad_line: str) -> str:
    problem = exc.problem or ""
    context = exc.context or ""
    if "\t" in bad_line[: len(bad_line) - len(bad_line.lstrip())] or "'\\t'" in problem:
        return "indent with spaces, not tabs"
    if "quoted scalar" in context:
        return "a quote is not closed"
    if "mapping values are not allowed" in problem:
        return "check the indentation, or quote a value that contains ': '"
    if "expected <block end>" in problem or "expected key" in problem:
        return "check the indentation of this line and the previous ones"
    if "flow" in context:
        return "a bracket or brace is not closed"
    return ""


def locate(path: Path, keypath: KeyPath) -> tuple[int, int]:
    """1-based (line, column) of the node at ``keypath`` in a file that loaded successfully.

    For a mapping key the position is the key's own; when the path goes further than the file
    (a missing key), the position is that of the deepest node found.
    """
    node = _walk(path, keypath)
    mark = node.start_mark
    return mark.line + 1, mark.column + 1


def locate_value(path: Path, keypath: KeyPath) -> tuple[int, int, int]:
    """(line, column, offset) of the scalar value at ``keypath``.

    ``offset`` is 1 for a quoted one-line scalar (the text starts after the quote), 0 for a
    plain one, and -1 when the value spans lines (columns inside it cannot be mapped).
    """
    node = _walk(path, keypath, value=True)
    mark = node.start_mark
    if not isinstance(node, yaml.ScalarNode) or node.end_mark.line != mark.line:
        return mark.line + 1, mark.column + 1, -1
    offset = 1 if node.style in ("'", '"') else 0
    if node.style in ("|", ">"):
        offset = -1
    return mark.line + 1, mark.column + 1, offset


def _walk(path: Path, keypath: KeyPath, *, value: bool = False) -> yaml.Node:
    stat = path.stat()
    node = _compose(str(path), stat.st_mtime_ns, stat.st_size)
    if node is None:
        return yaml.ScalarNode("", "", yaml.Mark(str(path), 0, 0, 0, "", 0))
    for index, part in enumerate(keypath):
        last = index == len(keypath) - 1
        child = _child(node, part, key=last and not value)
        if child is None:
            return node
        node = child
    return node


def _child(node: yaml.Node, part: str | int, *, key: bool) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                return key_node if key else value_node
        return None
    if (
        isinstance(node, yaml.SequenceNode)
        and isinstance(part, int)
        and 0 <= part < len(node.value)
    ):
        return node.value[part]  # type: ignore[no-any-return]
    return None


@functools.lru_cache(maxsize=32)
def _compose(path: str, mtime_ns: int, size: int) -> yaml.Node | None:
    # mtime and size are part of the cache key so that an edited file is read again.
    with open(path, encoding="utf-8") as handle:
        return yaml.compose(handle, Loader=_Loader)
