"""polygrad's conformance suite: every op of the rules table on the active backend, checked
against a float64 NumPy reference, central finite differences and JAX's autodiff.

See conformance/README.md. A package, so that its conftest and helpers never collide
with those of tests/.
"""
