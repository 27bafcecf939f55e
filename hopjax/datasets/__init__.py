"""Real data sets, read offline from locally installed packages and cached as numpy arrays."""

from hopjax.datasets import mnist

__all__ = ["mnist"]
