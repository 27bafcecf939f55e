"""Pieces shared by experiment kinds: the registries of rules and dynamics."""

from __future__ import annotations

from hopjax import dynamics, rules

# name -> J(xi (P_max, N), mask (P_max,)); closed-form rules take the padded mask
RULES = {
    "hebb": lambda xi, mask: rules.hebb(xi, mask),
    "pseudo_inverse": lambda xi, mask: rules.pseudo_inverse(xi, mask),
}

DYNAMICS = dynamics.MODES
