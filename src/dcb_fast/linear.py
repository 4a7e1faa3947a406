"""Moved to :mod:`dcb_fast.methods.linear`; this old name re-exports it for scripts written before the
move and will be removed in a later release."""

import warnings

from .methods.linear import *  # noqa: F401,F403

warnings.warn("dcb_fast.linear moved to dcb_fast.methods.linear; import it from there", DeprecationWarning, stacklevel=2)
