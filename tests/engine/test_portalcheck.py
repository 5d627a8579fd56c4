"""Portal cross-checks: contrast of the colours, theme icons, file types, featured procedures."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.icons import ICON_NAMES
from engine.portalcheck import MIN_CONTRAST, contrast_on_white, darker_until_readable
from tests.engine.packs import Pack

ICONS_DIR = Path(__file__).resolve().parents[2] / "renderer" / "static" / "icons"
PORTAL = """\
name: Ville
themes:
  - {id: etat-civil, label: État civil, icon: file-text}
  - {id: enfance, label: Enfance}
"""
ICON_LIST = "icons: " + ", ".join(ICON_NAMES)


@pytest.fixture
def pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pack:
    monkeypatch.chdir(tmp_path)
    return Pack(tmp_path)


def test_engine_icon_names_are_the_renderer_icon_files() -> None:
    files = sorted(p.stem for p in ICONS_DIR.glob("*.svg"))
    assert files, ICONS_DIR
    assert list(ICON_NAMES) == files


@pytest.mark.parametrize(
    ("colour", "ratio"),
    [("#ffffff", 1.0), ("#000000", 21.0), ("#1f4e79", 8.66), ("#3a9d5d", 3.41)],
)
def test_contrast_on_white(colour: str, ratio: float) -> None:
    assert contrast_on_white(colour) == pytest.approx(ratio, abs=0.01)


@pytest.mark.parametrize("colour", ["#3a9d5d", "#ffff00", "#ffffff", "#e1000f"])
def test_darker_shade_passes_and_keeps_the_hue(colour: str) -> None:
    shade = darker_until_readable(colour)
    assert contrast_on_white(shade) >= MIN_CONTRAST
    if contrast_on_white(colour) >= MIN_CONTRAST:
        assert shade != colour  # only asked for failing colours, but never lighter
    # the same hue: each channel darkened by the same factor
    assert all(int(shade[i : i + 2], 16) <= int(colour[i : i + 2], 16) for i in (1, 3, 5))


def test_low_contrast_colours_are_errors_with_a_darker_shade(pack: Pack) -> None:
    pack.write("portal.yaml", PORTAL + 'colours: {primary: "#3a9d5d", secondary: "#ffcc00"}\n')
    assert pack.problems() == [
        "pack/portal.yaml:5:11: error: primary colour '#3a9d5d' has a contrast of 3.4:1 on "
        "white; at least 4.5:1 is needed for text (RGAA 3.2) "
        f"(a darker shade such as '{darker_until_readable('#3a9d5d')}' passes)",
        "pack/portal.yaml:5:31: error: secondary colour '#ffcc00' has a contrast of 1.5:1 on "
        "white; at least 4.5:1 is needed for text (RGAA 3.2) "
        f"(a darker shade such as '{darker_until_readable('#ffcc00')}' passes)",
    ]


def test_contrast_is_rounded_down(pack: Pack) -> None:
    # #777777 is 4.48:1: shown as 4.4, never as a passing-looking 4.5
    pack.write("portal.yaml", PORTAL + 'colours: {primary: "#777777"}\n')
    assert "has a contrast of 4.4:1 on white" in pack.problems()[0]


def test_contrast_problem_points_at_the_layer_that_set_the_colour(pack: Pack) -> None:
    pack.write("portal.yaml", PORTAL + 'colours: {primary: "#1f4e79", secondary: "#ffcc00"}\n')
    Pack(pack.root, "overlay", "overlay")  # its portal.yaml sets a readable primary colour
    pack.write("../overlay/portal.yaml", 'name: Surcouche\ncolours: {secondary: "#eeeeee"}\n')
    (pack.root / "overlay/procedures/licence-sport.yaml").unlink()  # its theme is gone
    problems = pack.problems("overlay")
    assert [p.split(": error")[0] for p in problems] == [
        "overlay/portal.yaml:2:11",  # secondary, set by the overlay; primary of the base passes
    ]


def test_unknown_icon(pack: Pack) -> None:
    pack.write("portal.yaml", PORTAL.replace("icon: file-text", "icon: fil-text"))
    Pack(pack.root, "overlay", "overlay")
    pack.write(
        "../overlay/portal.yaml",
        "themes:\n  - {id: sport, label: Sport, icon: music}\n",
    )
    assert pack.problems("overlay") == [
        f"overlay/portal.yaml:2:31: error: unknown icon 'music' ({ICON_LIST})",
        "pack/portal.yaml:3:41: error: unknown icon 'fil-text' "
        f"(did you mean 'file-text'? {ICON_LIST})",
    ]


def test_document_type_file_types_must_be_accepted_by_the_portal(pack: Pack) -> None:
    pack.write(
        "document-types.yaml",
        """
        piece-identite: {label: Pièce d'identité}
        justificatif-domicile: {label: Justificatif, accepted_types: [pdf, heic, docx]}
        """,
    )
    hint = "add {0} to `limits.accepted_types` in portal.yaml, or remove it here"
    assert pack.problems() == [
        "pack/document-types.yaml:2:68: error: document type 'justificatif-domicile' accepts "
        f"'heic', which the portal does not accept ({hint.format('heic')})",
        "pack/document-types.yaml:2:74: error: document type 'justificatif-domicile' accepts "
        f"'docx', which the portal does not accept ({hint.format('docx')})",
    ]
    # The portal's list after layering is what counts.
    pack.write(
        "portal.yaml",
        PORTAL + "limits: {accepted_types: [pdf, jpeg, png, heic, docx]}\n",
    )
    assert pack.problems() == []


def test_featured_procedure_disabled_by_an_overlay(pack: Pack) -> None:
    Pack(pack.root, "overlay", "overlay")
    pack.write("../overlay/procedures/acte-naissance.yaml", "disabled: true\n")
    assert pack.problems("overlay") == [
        "pack/portal.yaml:9:12: error: featured procedure 'acte-naissance' is disabled by "
        "overlay/procedures/acte-naissance.yaml "
        "(give a new `featured:` list in the overlay's portal.yaml)",
    ]


def test_no_portal_anywhere(pack: Pack) -> None:
    pack.remove("portal.yaml")
    problems = pack.problems()
    assert problems[0] == (
        "pack: error: no portal.yaml in any layer "
        "(create portal.yaml with at least `name:`, and `themes:` for the procedures)"
    )


def test_an_unreadable_portal_is_not_reported_missing(pack: Pack) -> None:
    pack.write("portal.yaml", "name: Ville\ncolours: {primary: #1f4e79}\n")
    assert pack.problems() == [
        "pack/portal.yaml:2:20: error: invalid YAML: did not find expected node content while "
        'parsing a flow node (a # starts a comment in YAML: quote the colour, "#1f4e79")'
    ]
