"""Matrix products at full float32 precision on every backend.

On GPUs (TF32) and TPUs (bfloat16 passes) XLA's default precision rounds float32 operands to
~3 significant digits. Local fields near zero then change sign, ties are no longer ties, and
a pseudo-inverse is no longer a projector: the physics differs from the CPU. Every product
whose operands are not exactly representable (couplings, coefficients, softmax weights) goes
through `matmul` / `einsum` here.
"""

from functools import partial

import jax.numpy as jnp
from jax import lax

HIGHEST = lax.Precision.HIGHEST
matmul = partial(jnp.matmul, precision=HIGHEST)
einsum = partial(jnp.einsum, precision=HIGHEST)
