"""The browser tests reuse the renderer's app fixture (a fresh app per test)."""

from tests.renderer.conftest import app_factory

__all__ = ["app_factory"]
