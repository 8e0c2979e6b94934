"""``python -m unshutter`` runs the CLI."""

import sys

from unshutter.cli.main import main

sys.exit(main())
