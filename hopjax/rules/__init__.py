"""Coupling rules. Closed forms return J (N, N); iterative rules are (init, update) pairs."""

from hopjax.rules.classical import hebb, hebb_add, pseudo_inverse, zero_diagonal

__all__ = ["hebb", "hebb_add", "pseudo_inverse", "zero_diagonal"]
