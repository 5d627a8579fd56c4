"""Web layer: the Starlette application, forms, templates and the CLI."""
