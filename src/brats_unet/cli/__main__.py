"""``python -m brats_unet.cli`` (as before the cli became a package); ``python -m brats_unet`` is the same."""

import sys

from . import main

sys.exit(main())
