"""Neural-network convolution with torch.nn.functional semantics on NumPy arrays."""

from fastconv.nn._pooling import *  # noqa: F403  (pooling lives in its own module)
