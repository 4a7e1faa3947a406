"""The mergeable partial state of an audit: counting rows into fibers, storing, merging and
finalizing them (SPEC section 2). Imports kernels/, io/ and core/."""

from .state import STATE_VERSION, FiberState

__all__ = ["FiberState", "STATE_VERSION"]
