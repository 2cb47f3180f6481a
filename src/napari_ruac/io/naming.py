"""How a message names an argument the user can change: the Python keyword (``timepoint=N``) in the
library, the option (``--timepoint N``) on the command line, which switches with ``command_line_names()``.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_COMMAND_LINE = contextvars.ContextVar("napari_ruac_command_line_names", default=False)
OPTIONS = {"out_dir": "--out", "channel_axis": "--channel-axis"}  # keywords whose option is not --<keyword>


def argument(keyword: str, value: str | None = None) -> str:
    """``timepoint=N`` (Python) or ``--timepoint N`` (command line); without a value just the name."""
    if _COMMAND_LINE.get():
        option = OPTIONS.get(keyword, "--" + keyword.replace("_", "-"))
        return option if value is None else f"{option} {value}"
    return keyword if value is None else f"{keyword}={value}"


@contextlib.contextmanager
def command_line_names() -> Iterator[None]:
    """Within this block messages name command-line options instead of Python keywords."""
    token = _COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _COMMAND_LINE.reset(token)
