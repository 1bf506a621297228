"""``python -m brats_unet``: the command line (also what ``torchrun -m brats_unet`` starts)."""

import sys

from .cli import main

sys.exit(main())
