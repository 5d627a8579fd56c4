"""Cross-checks of the merged portal settings: name, featured procedures, logo, colour
contrast, theme icons, and the file types of document types against the portal's limits.

A portal key is checked only when no layer's portal.yaml has a schema problem at it; a problem
about a key points at the file that set the key last.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from engine.errors import KeyPath, Problem
from engine.icons import ICON_NAMES
from engine.layers import FileEntry, Item, Layered
from engine.model import Limits
from engine.references import disabled_by

# RGAA 3.2 / WCAG 2.1 1.4.3: text needs 4.5:1 against its background (white here).
MIN_CONTRAST = 4.5


def check_portal(layered: Layered) -> Iterator[Problem]:
    """Every problem of the merged portal, its themes and the document types' file types."""
    portal = layered.portal
    if portal is None:
        if not layered.not_loaded("portal", "*"):
            first = layered.layers[0] if layered.layers else "."
            hint = "create portal.yaml with at least `name:`, and `themes:` for the procedures"
            yield Problem(first, 0, 0, "no portal.yaml in any layer", hint=hint)
        return
    entry = layered.portal_entry
    assert entry is not None
    if not portal.get("name") and layered.portal_ok("name"):
        yield Problem(entry.display, 0, 0, "the portal needs a name", ("name",))
    if layered.portal_ok("featured"):
        yield from _featured(layered, entry)
    logo = portal.get("logo")
    logo_entry = layered.portal_keys.get("logo", entry)
    if isinstance(logo, str) and logo and not (logo_entry.layer_path / logo).is_file():
        message = f"logo file '{logo}' does not exist"
        hint = f"the path is relative to the layer folder {logo_entry.layer}"
        yield Problem(logo_entry.display, 0, 0, message, ("logo",), hint)
    yield from _colours(layered, entry)
    for theme in layered.of("theme").values():
        yield from _icon(theme)
    if layered.portal_ok("limits", "accepted_types"):
        yield from _accepted_types(layered)


def _featured(layered: Layered, entry: FileEntry) -> Iterator[Problem]:
    procedures = layered.of("procedure")
    featured_entry = layered.portal_keys.get("featured", entry)
    for index, proc_id in enumerate((layered.portal or {}).get("featured") or []):
        if proc_id in procedures or layered.not_loaded("procedure", proc_id):
            continue
        disabler = disabled_by(layered, "procedure", proc_id)
        if disabler:
            message = f"featured procedure '{proc_id}' is disabled by {disabler}"
            hint = "give a new `featured:` list in the overlay's portal.yaml"
        else:
            message = f"featured procedure '{proc_id}' does not exist"
            close = difflib.get_close_matches(proc_id, list(procedures), n=1)
            hint = f"did you mean '{close[0]}'?" if close else ""
        path = ("featured", index)
        yield Problem(featured_entry.display, 0, 0, message, path, hint)


# --- colour contrast ---------------------------------------------------------------------------


def _colours(layered: Layered, entry: FileEntry) -> Iterator[Problem]:
    colours = (layered.portal or {}).get("colours")
    if not isinstance(colours, dict):
        return
    for name in ("primary", "secondary"):
        colour = colours.get(name)
        if not isinstance(colour, str) or not layered.portal_ok("colours", name):
            continue
        ratio = contrast_on_white(colour)
        if ratio >= MIN_CONTRAST:
            continue
        shown = int(ratio * 10) / 10  # rounded down: 4.46 must not read "4.5"
        message = (
            f"{name} colour '{colour}' has a contrast of {shown}:1 on white; "
            f"at least {MIN_CONTRAST}:1 is needed for text (RGAA 3.2)"
        )
        hint = f"a darker shade such as '{darker_until_readable(colour)}' passes"
        where = layered.portal_keys.get(f"colours.{name}", entry)
        yield Problem(where.display, 0, 0, message, ("colours", name), hint)


def _channels(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2.1 relative luminance of an sRGB colour."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_on_white(colour: str) -> float:
    """The WCAG contrast ratio of ``#rrggbb`` against white (1 to 21)."""
    return 1.05 / (_luminance(_channels(colour)) + 0.05)


def darker_until_readable(colour: str) -> str:
    """``colour`` darkened by steps of 2% of each channel until it reaches MIN_CONTRAST."""
    rgb = _channels(colour)
    for step in range(1, 51):
        factor = 1 - step / 50
        shade = (int(rgb[0] * factor), int(rgb[1] * factor), int(rgb[2] * factor))
        if 1.05 / (_luminance(shade) + 0.05) >= MIN_CONTRAST:
            return "#{:02x}{:02x}{:02x}".format(*shade)
    return "#000000"


# --- themes and document types ----------------------------------------------------------------


def _icon(theme: Item) -> Iterator[Problem]:
    icon = theme.data.get("icon")
    if not isinstance(icon, str) or not icon or icon in ICON_NAMES or not theme.ok("icon"):
        return
    close = difflib.get_close_matches(icon, ICON_NAMES, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    hint += "icons: " + ", ".join(ICON_NAMES)
    yield _item_problem(theme, ("icon",), f"unknown icon '{icon}'", hint)


def _accepted_types(layered: Layered) -> Iterator[Problem]:
    limits = (layered.portal or {}).get("limits") or {}
    portal_types = limits.get("accepted_types", Limits().accepted_types)
    for doc in layered.of("document type").values():
        types = doc.data.get("accepted_types")
        if not isinstance(types, list) or not doc.ok("accepted_types"):
            continue
        for index, kind in enumerate(types):
            if kind in portal_types:
                continue
            message = f"document type '{doc.id}' accepts '{kind}', which the portal does not accept"
            hint = f"add {kind} to `limits.accepted_types` in portal.yaml, or remove it here"
            yield _item_problem(doc, ("accepted_types", index), message, hint)


def _item_problem(item: Item, path: KeyPath, message: str, hint: str) -> Problem:
    return Problem(item.entry.display, 0, 0, message, (*item.base, *path), hint)
