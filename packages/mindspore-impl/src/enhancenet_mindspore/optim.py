"""Adam with PyTorch's update rule, as a MindSpore optimizer (PYNATIVE and GRAPH mode, inside a jitted step).

Why not ``nn.Adam``: MindSpore's ``nn.Adam`` (its CPU ``ops.Adam`` kernel) adds ``eps`` to ``sqrt(v_t)`` *before*
the bias correction, ``p -= lr·sqrt(1−β2^t)/(1−β1^t) · m_t/(sqrt(v_t)+eps)``, which is ``torch.optim.Adam``
with ``eps`` replaced by ``eps/sqrt(1−β2^t)`` (3.2e-7 instead of 1e-8 at t = 1 for β2 = 0.999): small gradients
move measurably less than in PyTorch and Paddle.

:class:`TorchAdam` runs ``torch.optim.Adam``'s single-tensor update (``amsgrad=False``, ``maximize=False``) on
every parameter, step ``t`` counted from 1::

    g   = grad + weight_decay · p                    (L2 added to the gradient, only when weight_decay > 0)
    m   = β1·m + (1−β1)·g
    v   = β2·v + (1−β2)·g²
    p  -= lr/(1−β1^t) · m / (sqrt(v)/sqrt(1−β2^t) + eps)

which is ``p -= lr · m̂/(sqrt(v̂)+eps)`` with ``m̂ = m/(1−β1^t)``, ``v̂ = v/(1−β2^t)``. The bias corrections are
computed in float64 from the step count (as PyTorch does in Python) and then cast to the parameters' float32.
Unlike ``nn.Adam``'s default ``decay_filter``, weight decay applies to every parameter given (BatchNorm γ/β
included), as in PyTorch.

State (all MindSpore Parameters, written in place with ``ops.assign``, so they are saved and restored by
:mod:`enhancenet_mindspore.checkpoint` under ``optimizer.<name>``): ``moment1.<param>``, ``moment2.<param>``,
``global_step`` (int32, the number of steps taken) and ``learning_rate`` (a scalar Parameter; assign to it to
change the rate between steps).
"""

from __future__ import annotations

from collections.abc import Iterable

import mindspore as ms
from mindspore import nn, ops

__all__ = ["TorchAdam"]

_torch_adam_update = ops.MultitypeFuncGraph("torch_adam_update")


@_torch_adam_update.register(*(["Tensor"] * 11))
def _update_one(beta1: ms.Tensor, beta2: ms.Tensor, one_minus_beta1: ms.Tensor, one_minus_beta2: ms.Tensor,
                eps: ms.Tensor, step_size: ms.Tensor, bias_correction2_sqrt: ms.Tensor, param: ms.Parameter,
                moment1: ms.Parameter, moment2: ms.Parameter, grad: ms.Tensor) -> ms.Tensor:
    """Update one parameter and its moments in place (PyTorch's order of operations); returns the new param."""
    m = beta1 * moment1 + one_minus_beta1 * grad
    v = beta2 * moment2 + one_minus_beta2 * grad * grad
    denom = ops.sqrt(v) / bias_correction2_sqrt + eps
    new = param - step_size * (m / denom)
    new = ops.depend(new, ops.assign(param, new))
    new = ops.depend(new, ops.assign(moment1, m))
    return ops.depend(new, ops.assign(moment2, v))


_add_weight_decay = ops.MultitypeFuncGraph("torch_adam_weight_decay")


@_add_weight_decay.register("Tensor", "Tensor", "Tensor")
def _decay_one(weight_decay: ms.Tensor, param: ms.Parameter, grad: ms.Tensor) -> ms.Tensor:
    """``grad + weight_decay · param`` (L2, as ``torch.optim.Adam``)."""
    return grad + weight_decay * param


class TorchAdam(nn.Optimizer):
    """``torch.optim.Adam`` (L2 weight decay, no AMSGrad) as a MindSpore optimizer; see the module docstring.

    Args:
        params: the Parameters to optimize (e.g. ``model.trainable_params()``); one group, one learning rate.
        learning_rate: a float, or a scalar Tensor/Parameter (the optimizer keeps its own ``learning_rate``
            Parameter either way; ``ops.assign`` to ``optimizer.learning_rate`` changes it between steps).
        beta1, beta2: the moment decay rates, in [0, 1).
        eps: added to ``sqrt(v̂)``, > 0.
        weight_decay: L2 coefficient added to the gradient, >= 0.

    ``optimizer(grads)`` takes the gradients as a tuple in the order of ``optimizer.parameters`` and updates the
    parameters in place.
    """

    def __init__(self, params: Iterable[ms.Parameter], learning_rate: float | ms.Tensor = 1e-3,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        for name, value, low, high in (("beta1", beta1, 0.0, 1.0), ("beta2", beta2, 0.0, 1.0)):
            if not low <= float(value) < high:
                raise ValueError(f"TorchAdam: {name} must be in [0, 1), got {value!r}")
        if not float(eps) > 0.0:
            raise ValueError(f"TorchAdam: eps must be > 0, got {eps!r}")
        if not float(weight_decay) >= 0.0:
            raise ValueError(f"TorchAdam: weight_decay must be >= 0, got {weight_decay!r}")
        # the base class's weight decay follows nn.Adam's decay_filter (skips BN gamma/beta): do it here instead
        super().__init__(learning_rate, params, weight_decay=0.0)
        if self.is_group or self.dynamic_lr:
            raise ValueError("TorchAdam: one parameter group and a scalar learning rate only")
        self.beta1_value = float(beta1)
        self.beta2_value = float(beta2)
        self.eps_value = float(eps)
        self.weight_decay_value = float(weight_decay)
        self.beta1 = ms.Tensor(self.beta1_value, ms.float32)
        self.beta2 = ms.Tensor(self.beta2_value, ms.float32)
        # 1 − β computed in float64 (Python), then rounded once, as PyTorch's scalar arguments are
        self.one_minus_beta1 = ms.Tensor(1.0 - self.beta1_value, ms.float32)
        self.one_minus_beta2 = ms.Tensor(1.0 - self.beta2_value, ms.float32)
        self.eps = ms.Tensor(self.eps_value, ms.float32)
        self.beta1_f64 = ms.Tensor(self.beta1_value, ms.float64)
        self.beta2_f64 = ms.Tensor(self.beta2_value, ms.float64)
        self.decay = ms.Tensor(self.weight_decay_value, ms.float32)
        self.use_decay = self.weight_decay_value > 0.0
        self.moment1 = self._parameters.clone(prefix="moment1", init="zeros")
        self.moment2 = self._parameters.clone(prefix="moment2", init="zeros")

    def construct(self, gradients):
        params = self._parameters
        gradients = self.scale_grad(gradients)  # the base class's loss scale (1 unless given)
        if self.use_decay:
            gradients = self.hyper_map(ops.partial(_add_weight_decay, self.decay), params, gradients)
        self.assignadd(self.global_step, self.global_step_increase_tensor)
        t = ops.cast(self.global_step, ms.float64).reshape(())
        bias_correction1 = 1.0 - ops.pow(self.beta1_f64, t)
        bias_correction2 = 1.0 - ops.pow(self.beta2_f64, t)
        lr = ops.cast(self.get_lr(), ms.float64)
        step_size = ops.cast(lr / bias_correction1, ms.float32)
        bias_correction2_sqrt = ops.cast(ops.sqrt(bias_correction2), ms.float32)
        return self.hyper_map(
            ops.partial(_torch_adam_update, self.beta1, self.beta2, self.one_minus_beta1, self.one_minus_beta2,
                        self.eps, step_size, bias_correction2_sqrt),
            params, self.moment1, self.moment2, gradients)
