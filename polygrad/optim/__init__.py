"""Optimizers, learning-rate schedules and gradient clipping.

    optimizer = pg.optim.AdamW(model, lr=pg.optim.cosine_decay(3e-3, 1000, warmup_steps=100))
    loss.backward(); pg.optim.clip_grad_norm(model, 1.0); optimizer.step(); optimizer.zero_grad()

The base (``Optimizer``) walks the parameter tree and counts steps; each optimizer gives
``init_single``/``apply_single`` with its update equations in its docstring.
"""
from ._base import Optimizer as Optimizer
from ._base import named_parameters as named_parameters
from ._clip import clip_grad_norm as clip_grad_norm
from ._clip import clip_grad_value as clip_grad_value
from ._optimizers import SGD as SGD
from ._optimizers import Adagrad as Adagrad
from ._optimizers import Adam as Adam
from ._optimizers import AdamW as AdamW
from ._optimizers import Lion as Lion
from ._optimizers import RMSprop as RMSprop
from ._schedules import constant as constant
from ._schedules import cosine_decay as cosine_decay
from ._schedules import exponential_decay as exponential_decay
from ._schedules import one_cycle as one_cycle
from ._schedules import step_decay as step_decay

__all__ = [
    "Optimizer", "named_parameters", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Lion",
    "constant", "step_decay", "exponential_decay", "cosine_decay", "one_cycle",
    "clip_grad_norm", "clip_grad_value",
]
