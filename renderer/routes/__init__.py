"""Route groups of the portal."""
