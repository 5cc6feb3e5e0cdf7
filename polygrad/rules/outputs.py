"""Multi-output rules, and "output": one result of such a rule.

A rule whose forward returns a tuple of arrays (eigh, svd, qr, slogdet) makes one
internal node whose data is that tuple; the namespace never hands it to users but
wraps each result in an "output" node. The backward pass carries the internal node's
cotangent as a tuple with one entry per result, None where that result received none,
so a multi-output vjp sees ``g`` as such a tuple and ``out`` as the tuple of results,
and skips the work of the results nobody used (eigh's eigenvalues alone need no
eigenvector term). The engine adds these tuples entry by entry and never unbroadcasts
them; with create_graph it hands the vjp ``out`` as "output" Values of the node.
"""
from __future__ import annotations

from ._core import defrule


@defrule("output")
def output(xp, results, *, index, count):
    """result ``index`` of a multi-output rule's node (whose data is a tuple of ``count``)"""
    return results[index]


@output.defvjp
def output_vjp(xp, g, out, results, *, index, count):
    return ((None,) * index + (g,) + (None,) * (count - index - 1),)
