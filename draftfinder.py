#!/usr/bin/env python3
"""Run draftfinder from a clone, as the manual shows: ``python draftfinder.py TARGET [flags]``.

The package directory ``draftfinder/`` sits beside this file and wins the import, so this script is only a
launcher for ``draftfinder.cli.main``.
"""

import sys

from draftfinder.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
