"""Pooling layers' functional forms (max/avg, forward and backward)."""

__all__: list = []
