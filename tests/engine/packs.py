"""Small definition packs for engine tests: a copy of tests/fixtures/minimal to edit."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from engine.validate import Validation, validate_layers
from tests.conftest import FIXTURES


class Pack:
    """A writable copy of a fixture pack, validated from its parent folder (relative names)."""

    def __init__(self, root: Path, name: str = "pack", fixture: str = "minimal") -> None:
        self.root = root
        self.name = name
        shutil.copytree(FIXTURES / fixture, root / name)

    def write(self, rel: str, text: str) -> Path:
        path = self.root / self.name / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def remove(self, rel: str) -> None:
        (self.root / self.name / rel).unlink()

    def validate(self, *more: str) -> Validation:
        return validate_layers([Path(self.name), *(Path(m) for m in more)])

    def problems(self, *more: str) -> list[str]:
        return [p.format() for p in self.validate(*more).problems]
