"""Definition problems: every one carries file, line, column, key path, message and hint.

The validator's messages are UI for municipal admins, so they follow the shape of compiler
errors (``file:line:col: error: message``) and say how to fix what they report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int  # 1-based; 0 when the problem concerns the file as a whole
    column: int  # 1-based; 0 when unknown
    message: str
    path: KeyPath = ()
    hint: str = ""
    severity: str = "error"

    def format(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}:{self.column or 1}"
        text = f"{where}: {self.severity}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            # null, not 0, where the problem concerns the file as a whole (or the column is
            # unknown): 0 is no line number a tool should jump to.
            "line": self.line or None,
            "column": self.column or None,
            "path": ".".join(str(p) for p in self.path),
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
        }


@dataclass
class DefinitionErrors(Exception):
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return "\n".join(p.format() for p in self.problems)

    @classmethod
    def of(cls, problems: Iterable[Problem]) -> DefinitionErrors:
        return cls(sorted(problems, key=lambda p: (p.file, p.line, p.column)))
