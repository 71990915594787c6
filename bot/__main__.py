"""Entry point: `python -m bot [command]`; see `bot.cli`."""

import sys

from bot.cli import main

sys.exit(main())
