"""``python -m keypad_meter``."""

import sys

from .cli import main

sys.exit(main())
