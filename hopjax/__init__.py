"""hopjax: Hopfield networks, dreaming learning rules and their phase diagrams, in JAX.

Pure, jit-compiled and vmap-able functions; a PRNG key is the first argument of anything
random. Computations are float32 unless stated (spins are ±1 floats).

Docstrings cite the models, formulas and conventions as ``docs/conventions.md §N``: the
"Conventions" page of the documentation site, ``docs/conventions.md`` in the source repository.
"""

from hopjax import (bam, datasets, dense, dynamics, energy, metrics, modern, patterns, rules,
                    theory)

__version__ = "0.1.0"

__all__ = ["bam", "datasets", "dense", "dynamics", "energy", "metrics", "modern", "patterns",
           "rules", "theory", "__version__"]
