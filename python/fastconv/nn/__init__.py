"""fastconv.nn: layers, losses and optimisers over fastconv.nn.functional."""

from fastconv.nn import functional

__all__ = ["functional"]
