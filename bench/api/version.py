"""The toolkit's version (recorded in results and prompt files)."""

__version__ = "0.1.0"
