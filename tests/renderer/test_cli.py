"""The `guichet` command line: validate (text, json, explain), schema, exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from renderer.cli import main
from tests.conftest import ROOT
from tests.engine.packs import Pack


@pytest.fixture
def pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pack:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GUICHET_DEFINITIONS", raising=False)
    return Pack(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


OK_LINE = (
    "OK: 2 procedures, 2 themes, 2 document types, 1 agendas, 1 news items, "
    "1 practical-information pages\n"
)


def test_validate_ok(pack: Pack, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "validate", "pack") == (0, OK_LINE, "")


def test_default_layers_come_from_the_environment(
    pack: Pack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    Pack(pack.root, "overlay", "overlay")
    monkeypatch.setenv("GUICHET_DEFINITIONS", "pack:overlay")
    status, out, _ = run(capsys, "validate")
    assert status == 0
    assert out.startswith("OK: 2 procedures, 2 themes")


def test_default_layer_is_definitions(pack: Pack, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "validate")
    assert status == 1
    assert out.splitlines()[0] == (
        "definitions: error: layer folder 'definitions' does not exist "
        "(give the folder holding portal.yaml and procedures/)"
    )


def test_validate_problems_exit_1(pack: Pack, capsys: pytest.CaptureFixture[str]) -> None:
    pack.write("services.yaml", "etat-civil: {label: EC}\nenfance: {lable: E}\n")
    status, out, err = run(capsys, "validate", "pack")
    assert status == 1
    assert out == (
        "pack/services.yaml:2:11: error: unknown key 'lable' in service 'enfance' "
        "(did you mean 'label'?)\n"
    )
    assert err == "1 problem\n"


def test_validate_json(pack: Pack, capsys: pytest.CaptureFixture[str]) -> None:
    pack.write("services.yaml", "etat-civil: {label: EC}\nenfance: {lable: E}\n")
    status, out, _ = run(capsys, "validate", "pack", "--format", "json")
    assert status == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert report["problems"] == [
        {
            "file": "pack/services.yaml",
            "line": 2,
            "column": 11,
            "path": "enfance.lable",
            "severity": "error",
            "message": "unknown key 'lable' in service 'enfance'",
            "hint": "did you mean 'label'?",
        }
    ]
    assert "counts" not in report  # the counts of a failing pack would be guesses
    assert "provenance" not in report


def test_validate_json_ok(pack: Pack, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "validate", "pack", "--format", "json")
    report = json.loads(out)
    assert (status, report["ok"], report["problems"]) == (0, True, [])
    assert report["counts"]["news"] == 1 and report["counts"]["info"] == 1


def test_explain(pack: Pack, capsys: pytest.CaptureFixture[str]) -> None:
    Pack(pack.root, "overlay", "overlay")
    status, out, _ = run(capsys, "validate", "pack", "overlay", "--explain")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("OK: 2 procedures")
    assert (
        "procedure acte-naissance: overlay (overlay/procedures/acte-naissance.yaml), "
        "replaces pack" in lines
    )
    assert (
        "procedure inscription-cantine: disabled by overlay "
        "(overlay/procedures/inscription-cantine.yaml), was defined in pack" in lines
    )
    assert "procedure licence-sport: overlay (overlay/procedures/licence-sport.yaml)" in lines
    assert "portal portal: overlay (overlay/portal.yaml), overrides pack" in lines
    assert "theme enfance: disabled by overlay (overlay/portal.yaml), was defined in pack" in lines


def test_schema_combined_and_one_kind(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "schema")
    combined = json.loads(out)
    assert status == 0
    assert combined["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "procedure" in combined["$defs"]
    status, out, _ = run(capsys, "schema", "procedure")
    assert status == 0
    assert "steps" in json.loads(out)["properties"]


def test_schema_unknown_kind(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "schema", "procedures")
    assert status == 2
    assert err.startswith("error: unknown kind 'procedures' (kinds: portal, document_types")


def test_billion_laughs_through_the_command(pack: Pack, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.engine.test_yamlsafe import BILLION_LAUGHS

    pack.write("news/bombe.yaml", BILLION_LAUGHS)
    status, out, _ = run(capsys, "validate", "pack")
    assert status == 1
    assert out.startswith(
        "pack/news/bombe.yaml:6:4: error: YAML aliases expand to more than 100000 nodes"
    )


def test_console_script_runs_as_a_module(pack: Pack) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "renderer.cli", "validate", "pack"],
        capture_output=True,
        text=True,
        check=False,
        cwd=pack.root,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert (done.returncode, done.stdout) == (0, OK_LINE)


@pytest.mark.parametrize("explain", [False, True], ids=["plain", "explain"])
@pytest.mark.parametrize("state", ["ok", "problems", "file-problem", "missing-layer"])
def test_validate_json_is_one_document(
    pack: Pack, capsys: pytest.CaptureFixture[str], state: str, explain: bool
) -> None:
    if state == "problems":
        pack.write("services.yaml", "etat-civil: {label: EC}\nenfance: {lable: E}\n")
    elif state == "file-problem":
        pack.write("news/vide.yaml", "# nothing yet\n")
    layers = ["nowhere"] if state == "missing-layer" else ["pack"]
    argv = ["validate", *layers, "--format", "json", *(["--explain"] if explain else [])]
    status, out, err = run(capsys, *argv)
    report = json.loads(out)  # the whole of stdout, nothing after it
    assert (status, err) == ((0, "") if state == "ok" else (1, ""))
    assert set(report) == {
        "ok",
        "problems",
        *(["counts"] if state == "ok" else []),
        *(["provenance"] if explain else []),
    }
    assert report["ok"] is (state == "ok")
    if state in ("file-problem", "missing-layer"):
        [problem] = report["problems"]
        assert (problem["line"], problem["column"], problem["path"]) == (None, None, "")


def test_file_problem_in_json(pack: Pack, capsys: pytest.CaptureFixture[str]) -> None:
    pack.write("news/vide.yaml", "# nothing yet\n")
    _, out, _ = run(capsys, "validate", "pack", "--format", "json")
    assert json.loads(out)["problems"] == [
        {
            "file": "pack/news/vide.yaml",
            "line": None,
            "column": None,
            "path": "",
            "severity": "error",
            "message": "the file is empty",
            "hint": "remove the file, or write `disabled: true` to remove an item of an earlier "
            "layer",
        }
    ]


def test_explain_in_json(pack: Pack, capsys: pytest.CaptureFixture[str]) -> None:
    Pack(pack.root, "overlay", "overlay")
    status, out, _ = run(capsys, "validate", "pack", "overlay", "--format", "json", "--explain")
    report = json.loads(out)
    assert status == 0
    entries = {(e["kind"], e["id"]): e for e in report["provenance"]}
    assert entries[("procedure", "acte-naissance")] == {
        "kind": "procedure",
        "id": "acte-naissance",
        "layer": "overlay",
        "file": "overlay/procedures/acte-naissance.yaml",
        "action": "replaced",
        "replaces": [{"layer": "pack", "file": "pack/procedures/acte-naissance.yaml"}],
    }
    assert entries[("procedure", "inscription-cantine")]["action"] == "disabled"
    assert entries[("procedure", "licence-sport")]["replaces"] == []
    assert entries[("portal", "portal")]["action"] == "overridden"
    assert [(e["kind"], e["id"]) for e in report["provenance"]] == sorted(entries)


def test_the_documented_json_report_has_the_real_shape(
    pack: Pack, capsys: pytest.CaptureFixture[str]
) -> None:
    guide = (ROOT / "docs" / "definitions.md").read_text(encoding="utf-8")
    sample = guide.split("$ guichet validate vendor commune --format json --explain\n")[1]
    documented = json.loads(sample.split("```")[0])
    Pack(pack.root, "overlay", "overlay")
    pack.write("news/vide.yaml", "")
    pack.write("services.yaml", "etat-civil: {label: EC}\nenfance: {lable: E}\n")
    _, out, _ = run(capsys, "validate", "pack", "overlay", "--format", "json", "--explain")
    real = json.loads(out)
    assert set(documented) == set(real)
    assert {tuple(p) for p in documented["problems"]} == {tuple(p) for p in real["problems"]}
    assert documented["problems"][0] == next(
        {**p, "file": "commune/news/vide.yaml"}
        for p in real["problems"]
        if p["file"] == "pack/news/vide.yaml"
    )
    assert {tuple(p) for p in documented["provenance"]} == {tuple(p) for p in real["provenance"]}
