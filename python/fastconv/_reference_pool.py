"""Pure-Python references for pooling (see fastconv.reference)."""

__all__: list = []
