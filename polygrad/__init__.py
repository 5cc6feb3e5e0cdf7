"""polygrad: backend-neutral reverse-mode autodiff over the Python array API.

    import polygrad as pg
    x = pg.Value([1.0, 2.0, 3.0])
    y = pg.sum(pg.exp(x) * x)
    y.backward()
    x.grad          # d y / d x

The array-API functions (pg.exp, pg.sum, pg.matmul...) are re-exported from
``polygrad.namespace``; ``POLYGRAD_BACKEND`` picks the array library.
"""
from . import nn as nn
from . import optim as optim
from . import testing as testing
from . import tree as tree
from ._state import detect_anomaly as detect_anomaly
from . import viz as viz
from ._state import enable_grad as enable_grad
from ._state import is_anomaly_enabled as is_anomaly_enabled
from ._state import is_grad_enabled as is_grad_enabled
from ._state import no_grad as no_grad
from ._backend import Backend as Backend
from ._backend import available_backends as available_backends
from ._backend import backend as backend
from ._backend import default_dtype as default_dtype
from ._backend import set_backend as set_backend
from ._backend import set_default_dtype as set_default_dtype
from ._backend import use_backend as use_backend
from ._backend import use_default_dtype as use_default_dtype
from .errors import AnomalyError as AnomalyError
from .errors import AxisError as AxisError
from .errors import BackendError as BackendError
from .errors import DTypeError as DTypeError
from .errors import FeedError as FeedError
from .errors import GradientError as GradientError
from .errors import IndexingError as IndexingError
from .errors import OpError as OpError
from .errors import PolygradError as PolygradError
from .errors import TracerError as TracerError
from .errors import ShapeError as ShapeError
from .errors import StateDictError as StateDictError
from .io import load as load
from .io import save as save
from .profiler import profile as profile
from .namespace import *  # noqa: F403 - the array-API functions, listed in namespace.__all__
from .namespace import __all__ as _namespace_all
from .namespace import __array_api_version__ as __array_api_version__
from .replay import placeholder as placeholder
from .rules import RULES as RULES
from .transforms import checkpoint as checkpoint
from .transforms import custom_jvp as custom_jvp
from .transforms import custom_vjp as custom_vjp
from .transforms import defop as defop
from .transforms import grad as grad
from .transforms import hessian as hessian
from .transforms import jacfwd as jacfwd
from .transforms import jacobian as jacobian
from .transforms import jacrev as jacrev
from .transforms import jvp as jvp
from .transforms import linearize as linearize
from .transforms import remat as remat
from .transforms import value_and_grad as value_and_grad
from .transforms import vjp as vjp
from .transforms import vmap as vmap
from .transforms import jit as jit
from .value import Value as Value

__version__ = "0.1.0"


def __getattr__(name: str):
    from . import namespace
    return getattr(namespace, name)  # dtype names and constants of the active backend


__all__ = [
    "Value", "placeholder", "grad", "value_and_grad", "no_grad", "enable_grad", "is_grad_enabled",
    "vjp", "jvp", "linearize", "jacrev", "jacfwd", "jacobian", "hessian", "checkpoint", "remat",
    "custom_vjp", "custom_jvp", "defop", "tree", "vmap", "jit", "TracerError",
    "backend", "set_backend", "use_backend", "available_backends", "default_dtype",
    "set_default_dtype", "use_default_dtype", "Backend", "RULES", "nn", "optim", "testing", "viz",
    "PolygradError", "ShapeError", "DTypeError", "BackendError", "OpError", "GradientError", "IndexingError",
    "StateDictError", "save", "load", "profile",
    "AxisError", "FeedError", "AnomalyError", "detect_anomaly", "is_anomaly_enabled",
    *_namespace_all,
]
