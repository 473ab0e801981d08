"""`python -m jepa_framework` (and `torchrun -m jepa_framework`) run the CLI."""

import sys

from jepa_framework.commands.cli import main

sys.exit(main())
