"""Function transforms, with JAX's names and signatures."""
from __future__ import annotations

from .grad import grad as grad
from .grad import value_and_grad as value_and_grad

__all__ = ["grad", "value_and_grad"]
