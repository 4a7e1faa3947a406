"""Moved to :mod:`dcb_fast.methods.channels`; this old name re-exports it for scripts written before the
move and will be removed in a later release."""

import warnings

from .methods.channels import *  # noqa: F401,F403

warnings.warn("dcb_fast.channels moved to dcb_fast.methods.channels; import it from there", DeprecationWarning, stacklevel=2)
