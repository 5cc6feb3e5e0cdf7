"""benchmarks/loss_curves.py: the training workloads' loss, polygrad against hand-written."""
from benchmarks.loss_curves import curves


def test_the_loss_curves_of_polygrad_and_hand_written_code_agree():
    found = curves(steps=2, names=["micrograd_step", "chain_step"])
    assert list(found) == ["micrograd_step"]  # the chain trains nothing: no curve
    losses = found["micrograd_step"]["curves"]
    assert set(losses) == {"polygrad", "handwritten"} and len(losses["polygrad"]) == 2
    assert losses["handwritten"][-1] < losses["handwritten"][0]  # it trains
    assert found["micrograd_step"]["largest_relative_gap"] < 1e-4
