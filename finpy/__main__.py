"""``python -m finpy``: the ``finpy`` command."""

import sys

from finpy.cli import main

if __name__ == "__main__":
    sys.exit(main())
