"""The command line, `python -m babybert COMMAND`: one parser and one function per command, on top
of the library. Nothing in the library imports it.
"""
from babybert.cli.main import main

__all__ = ["main"]
