"""``python -m napari_ruac.cli``: the same as the ``napari-ruac`` command."""

import sys

from .main import main

sys.exit(main())
