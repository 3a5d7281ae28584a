"""Pure-Python references for neural-network convolution (see fastconv.reference)."""

__all__: list = []
