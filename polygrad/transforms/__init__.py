"""Function transforms, with JAX's names and signatures, over pytrees.

Shared plumbing: ``_tree`` (pytrees through optree), ``_trace`` (running a function of
pytrees on tracer Values and pulling cotangents back through its graph) and ``_call``
(a whole function call as one graph node, for checkpoint and custom rules).
"""
from __future__ import annotations

from .checkpoint import checkpoint as checkpoint
from .checkpoint import remat as remat
from .custom import custom_jvp as custom_jvp
from .custom import custom_vjp as custom_vjp
from .custom import defop as defop
from .functional_call import functional_call as functional_call
from .functional_call import named_parameters as named_parameters
from .grad import grad as grad
from .grad import value_and_grad as value_and_grad
from .jacobians import hessian as hessian
from .jacobians import jacfwd as jacfwd
from .jacobians import jacobian as jacobian
from .jacobians import jacrev as jacrev
from .jacobians import jvp as jvp
from .jacobians import linearize as linearize
from .jacobians import vjp as vjp
from .jit import jit as jit
from .vmap import vmap as vmap

__all__ = [
    "grad", "value_and_grad", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "jacobian", "hessian",
    "checkpoint", "remat", "custom_vjp", "custom_jvp", "defop", "functional_call", "named_parameters",
    "vmap", "jit",
]
