"""The selected backend can run here; otherwise this is the one test collected, skipped with the reason."""
import pytest

from backends import selected_backend_name, selected_backend_problem


def test_selected_backend_can_run_here():
    problem = selected_backend_problem()
    if problem:
        pytest.skip(f"backend {selected_backend_name()!r} cannot run here: {problem}")
    import polygrad as pg
    assert pg.backend().name == selected_backend_name()
