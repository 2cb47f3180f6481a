"""The ``napari-ruac`` command line: one module per command (segment, batch, evaluate, demo, info,
download), shared arguments in :mod:`.common`, the dispatcher in :mod:`.main`.

Each command is a thin shell over a library function the tests also call.
"""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
