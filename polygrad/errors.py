"""polygrad's exception types: user mistakes get these, never a bare assert.

Each is a ``PolygradError`` and also the builtin exception a user would catch for the
same mistake in NumPy (``except ValueError`` still catches a ShapeError), and its
message names the op and the shapes or dtypes involved.
"""


class PolygradError(Exception):
    """Base class of every error polygrad raises on purpose."""


class ShapeError(PolygradError, ValueError):
    """Shapes an op cannot combine, or a feed that does not fit its placeholder."""


class AxisError(ShapeError, IndexError):
    """An axis out of range for the Value's dimensions, or repeated (a ValueError and an
    IndexError, as NumPy's AxisError)."""


class DTypeError(PolygradError, TypeError):
    """A dtype an op cannot take, an unknown dtype name, a dtype the backend lacks, data
    that is not numeric, or an integer leaf asked for a gradient."""


class BackendError(PolygradError, ValueError):
    """An unknown or missing backend, or Values of two backends in one expression."""


class OpError(PolygradError, ValueError):
    """The backend rejected an op's inputs; the message names the op and the inputs."""


class FeedError(PolygradError, ValueError):
    """``root.forward(**feeds)``: a name that is no placeholder of the graph, a placeholder
    left unfed, or a graph replayed by two threads at once."""


class GradientError(PolygradError, RuntimeError):
    """A gradient cannot be computed (no rule, a placeholder never fed...)."""


class IndexingError(PolygradError, IndexError):
    """An index out of range for its axis, or more indices than the Value has axes."""


class StateDictError(PolygradError, ValueError):
    """A state (from state_dict() or a checkpoint) that does not fit the module or optimizer
    it is loaded into: missing or unexpected names, or arrays of the wrong shape."""


class AnomalyError(PolygradError, FloatingPointError):
    """Anomaly mode (``pg.detect_anomaly()``, ``POLYGRAD_DEBUG_NANS=1``): an op produced a
    NaN or an infinity, in a forward or a backward; the message names the op, the shapes
    and the line of user code that created the node."""


class TracerError(PolygradError, TypeError):
    """A traced value's contents asked for while pg.jit traces (JAX's ConcretizationTypeError):
    Python control flow that depends on data cannot be compiled."""
