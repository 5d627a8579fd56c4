"""The `guichet` command: validate, schema, migrate, run, settings.

`validate` and `schema` only need the engine; the other commands live in ``renderer.serve``
and are imported when called, so validating a pack in CI never loads the web stack.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.validate import Validation, validate_layers

COUNT_LABELS = (
    ("procedures", "procedures"),
    ("themes", "themes"),
    ("document_types", "document types"),
    ("agendas", "agendas"),
    ("news", "news items"),
    ("info", "practical-information pages"),
)


def default_layers() -> list[str]:
    """GUICHET_DEFINITIONS split on ':', else `definitions`."""
    value = os.environ.get("GUICHET_DEFINITIONS", "")
    return [p for p in value.split(":") if p] or ["definitions"]


def summary(counts: dict[str, int]) -> str:
    """`OK: 13 procedures, 5 themes, ...`."""
    return "OK: " + ", ".join(f"{counts.get(k, 0)} {label}" for k, label in COUNT_LABELS)


def cmd_validate(args: argparse.Namespace) -> int:
    layers = args.layers or default_layers()
    result = validate_layers([Path(p) for p in layers])
    if args.format == "json":
        # One JSON document and nothing else on stdout, whatever the options.
        print(json.dumps(as_json(result, explain=args.explain), ensure_ascii=False, indent=2))
        return 0 if result.ok else 1
    for problem in result.problems:
        print(problem.format())
    if result.ok:
        print(summary(result.counts))
    else:
        count = len(result.problems)
        print(f"{count} problem{'s' if count > 1 else ''}", file=sys.stderr)
    if args.explain:
        print(explain(result))
    return 0 if result.ok else 1


def as_json(result: Validation, *, explain: bool = False) -> dict[str, Any]:
    """The report of `validate --format json` (documented in docs/definitions.md).

    ``counts`` only when the pack is valid (the counts of a failing pack would be guesses);
    ``provenance`` only with ``explain``.
    """
    report: dict[str, Any] = {
        "ok": result.ok,
        "problems": [p.as_json() for p in result.problems],
    }
    if result.ok:
        report["counts"] = result.counts
    if explain:
        report["provenance"] = provenance_json(result)
    return report


def provenance_json(result: Validation) -> list[dict[str, Any]]:
    """One entry per item, sorted by kind and id: where it finally comes from, and what the
    earlier layers that defined it were (``replaces``, oldest first).
    """
    out = []
    for (kind, item_id), history in sorted(result.provenance.items()):
        layer, file, action = history[-1]
        earlier = [{"layer": lay, "file": f} for lay, f, _ in history[:-1]]
        out.append(
            {
                "kind": kind,
                "id": item_id,
                "layer": layer,
                "file": file,
                "action": action,
                "replaces": earlier,
            }
        )
    return out


def explain(result: Validation) -> str:
    """One line per item: kind, id, the layer and file it comes from, what it replaced."""
    lines = []
    for (kind, item_id), history in sorted(result.provenance.items()):
        layer, file, action = history[-1]
        before = ", ".join(lay for lay, _, _ in history[:-1])
        if action == "disabled":
            text = f"{kind} {item_id}: disabled by {layer} ({file})"
            text += f", was defined in {before}" if before else ""
        else:
            text = f"{kind} {item_id}: {layer} ({file})"
            verb = "overrides" if action == "overridden" else "replaces"
            text += f", {verb} {before}" if before else ""
        lines.append(text)
    return "\n".join(lines)


def cmd_schema(args: argparse.Namespace) -> int:
    from engine import schema

    if args.kind is None:
        document = schema.combined_schema()
    elif args.kind in schema.KINDS:
        document = schema.schema_for(args.kind)
    else:
        kinds = ", ".join(schema.KINDS)
        print(f"error: unknown kind '{args.kind}' (kinds: {kinds})", file=sys.stderr)
        return 2
    print(json.dumps(document, ensure_ascii=False, indent=2))
    return 0


def _serve_command(name: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        from renderer import serve

        return int(getattr(serve, name)(args) or 0)

    return run


def parser() -> argparse.ArgumentParser:
    """The argument parser of `guichet`."""
    top = argparse.ArgumentParser(prog="guichet", description="Citizen portal for town halls.")
    sub = top.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="check definition layers and report problems")
    validate.add_argument(
        "layers",
        nargs="*",
        metavar="LAYER",
        help="layer folders, in order (default: GUICHET_DEFINITIONS split on ':', or definitions)",
    )
    validate.add_argument("--format", choices=("text", "json"), default="text")
    validate.add_argument(
        "--explain", action="store_true", help="show the layer and file of every item"
    )
    validate.set_defaults(func=cmd_validate)

    schema = sub.add_parser("schema", help="print the JSON Schema of the definition files")
    schema.add_argument("kind", nargs="?", help="one kind (procedure, portal...); default: all")
    schema.set_defaults(func=cmd_schema)

    migrate = sub.add_parser("migrate", help="create or upgrade the database")
    migrate.set_defaults(func=_serve_command("cmd_migrate"))

    run = sub.add_parser("run", help="serve the portal")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    run.add_argument("--reload", action="store_true", help="restart on code changes")
    run.set_defaults(func=_serve_command("cmd_run"))

    settings = sub.add_parser("settings", help="print the settings and their values")
    settings.set_defaults(func=_serve_command("cmd_settings"))
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `guichet` console script; returns the exit status."""
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
