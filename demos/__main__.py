"""``python -m demos`` is the ``minigrad`` command (see ``demos.cli``)."""
import sys

from demos.cli import main

if __name__ == "__main__":
    sys.exit(main())
