"""`python -m ocr` entry point."""

import sys

from ocr.cli import main

sys.exit(main())
