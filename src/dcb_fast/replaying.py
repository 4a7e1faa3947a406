"""Moved to :mod:`dcb_fast.methods.replay`; this old name re-exports it for scripts written before the
move and will be removed in a later release."""

import warnings

from .methods.replay import *  # noqa: F401,F403
from .methods.cells import Cells, read_cells, split_counts  # noqa: F401

warnings.warn("dcb_fast.replaying moved to dcb_fast.methods.replay; import it from there", DeprecationWarning, stacklevel=2)
