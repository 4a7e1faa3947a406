"""Moved to :mod:`dcb_fast.tools.benchmark`; this old name re-exports it for scripts written before the
move and will be removed in a later release."""

import warnings

from .tools.benchmark import *  # noqa: F401,F403

warnings.warn("dcb_fast.benchmark moved to dcb_fast.tools.benchmark; import it from there", DeprecationWarning, stacklevel=2)
