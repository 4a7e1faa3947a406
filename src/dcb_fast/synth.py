"""Moved to :mod:`dcb_fast.tools.synth`; this old name re-exports it for scripts written before the
move and will be removed in a later release."""

import warnings

from .tools.synth import *  # noqa: F401,F403

warnings.warn("dcb_fast.synth moved to dcb_fast.tools.synth; import it from there", DeprecationWarning, stacklevel=2)
