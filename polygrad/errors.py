"""polygrad's exception types: user mistakes get these, never a bare assert."""


class PolygradError(Exception):
    """Base class of every error polygrad raises on purpose."""


class ShapeError(PolygradError, ValueError):
    """Shapes an op cannot combine, or a feed that does not fit its placeholder."""


class DTypeError(PolygradError, TypeError):
    """A dtype an op cannot take, such as an integer leaf asked for a gradient."""


class BackendError(PolygradError, ValueError):
    """An unknown or missing backend, or Values of two backends in one expression."""


class OpError(PolygradError, ValueError):
    """The backend rejected an op's inputs; the message names the op and the inputs."""


class GradientError(PolygradError, RuntimeError):
    """A gradient cannot be computed (no rule, a placeholder never fed...)."""


class IndexingError(PolygradError, IndexError):
    """An index out of range for its axis, or more indices than the Value has axes."""


class StateDictError(PolygradError, ValueError):
    """A state (from state_dict() or a checkpoint) that does not fit the module or optimizer
    it is loaded into: missing or unexpected names, or arrays of the wrong shape."""


class TracerError(PolygradError, TypeError):
    """A traced value's contents asked for while pg.jit traces (JAX's ConcretizationTypeError):
    Python control flow that depends on data cannot be compiled."""
