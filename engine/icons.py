"""The icon names a theme may use: the SVG files the renderer ships (renderer/static/icons).

The engine cannot read the renderer's folder (it imports nothing of it), so the names are kept
here as data; a test checks that they equal the files, so the two cannot drift apart.
"""

from __future__ import annotations

ICON_NAMES: tuple[str, ...] = (
    "calendar",
    "child",
    "clock",
    "contact",
    "demarche",
    "document",
    "file-text",
    "home",
    "info",
    "news",
    "padlock",
    "road",
    "search",
    "team",
)
