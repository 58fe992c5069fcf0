"""MAML's meta-gradient for the batched ReLU MLP of :mod:`metaviz.nets`, written out by hand.

The autograd path (:mod:`.inner_loop` with ``create_graph=True``) runs ~200 ATen ops
and ~50 graph nodes per meta-step for the default 1-40-40-1 network; at meta-batch 25
most of its time is per-op overhead, not arithmetic. Here the same quantities come from
~80 ops (plus free views) and no graph: the forward pass and the inner gradient
(backprop), then the outer backward as Hessian-vector products in closed form.

Notation, per task (every tensor carries the task dim T first; inputs x [T, N, 1]):
layer l maps h_l [T, N, in] to z_l = h_l W_l + b_l, h_{l+1} = relu(z_l); the output is
f = z_{L-1}. With the loss sum_n (f_n - y_n)^2 / N, backprop gives
delta_{L-1} = 2 (f - y) / N, delta_{l-1} = (delta_l W_l^T) * [h_l > 0],
dW_l = h_l^T delta_l, db_l = sum_n delta_l.

Second order: theta_{k+1} = theta_k - alpha g_k(theta_k), so the meta-gradient
v_0 = dL/dtheta_0 follows from v_S = dL/dtheta_S by v_k = v_{k+1} - alpha H_k v_{k+1},
H_k the Hessian of task t's support loss at theta_k. For a ReLU network the masks are
locally constant (ReLU'' = 0 almost everywhere), so H v is the directional derivative of
the backprop above with the masks held fixed (Pearlmutter's R-op):

    forward:  zdot_l = h_l Wdot_l + bdot_l + hdot_l W_l,  hdot_{l+1} = zdot_l * [h_{l+1} > 0]
    backward: ddot_{L-1} = 2 fdot / N,
              (Hv)_W_l = hdot_l^T delta_l + h_l^T ddot_l,  (Hv)_b_l = sum_n ddot_l,
              ddot_{l-1} = (ddot_l W_l^T + delta_l Wdot_l^T) * [h_l > 0]

First order drops H: v_0 = v_S. The meta-parameters are shared by the tasks, so the
last update (and the whole first-order gradient) is summed over T in the same product
(one [T*N, in]^T [T*N, out] matmul per weight).
"""

from __future__ import annotations

import math

import torch

Params = list[torch.Tensor]
#: A step size: a number, or a 0-d tensor (traced by the compiler, so a new rate
#: does not recompile).
Rate = float | torch.Tensor


def _linear(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """h [T, N, in] @ W [T, in, out] + b [T, 1, out] (a 1-wide input as a broadcast product)."""
    if h.shape[-1] == 1:
        return torch.addcmul(bias, h, weight)
    return torch.baddbmm(bias, h, weight)


def _times_transpose(d: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """d [T, N, out] @ W^T -> [T, N, in] (a 1-wide output as a broadcast product)."""
    if d.shape[-1] == 1:
        return d * weight.transpose(1, 2)
    return torch.bmm(d, weight.transpose(1, 2))


def _relu_mask(d: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """d where h > 0, else 0 (h = relu(z), so h > 0 exactly where z > 0): one fused op."""
    return torch.ops.aten.threshold_backward(d, h, 0)


def _outer(acc: torch.Tensor | None, h: torch.Tensor, d: torch.Tensor, alpha: Rate, over_tasks: bool):
    """acc + alpha * h^T d: per task [T, in, out], or summed over tasks [in, out]."""
    if over_tasks:
        h, d = h.reshape(-1, h.shape[-1]).t(), d.reshape(-1, d.shape[-1])
        product, fused = torch.mm, torch.addmm
    else:
        h = h.transpose(1, 2)
        product, fused = torch.bmm, torch.baddbmm
    if acc is None:
        return product(h, d)
    if isinstance(alpha, torch.Tensor):  # a traced rate (compiled): the compiler fuses the product
        return acc + alpha * product(h, d)
    return fused(acc, h, d, alpha=alpha)


def _add_scaled(acc: torch.Tensor, term: torch.Tensor, alpha: Rate) -> torch.Tensor:
    """acc + alpha * term (one op for a number)."""
    if isinstance(alpha, torch.Tensor):
        return acc + alpha * term
    return torch.add(acc, term, alpha=alpha)


def _column_sum(acc: torch.Tensor | None, d: torch.Tensor, alpha: Rate, over_tasks: bool):
    """acc + alpha * sum_n d: per task [T, 1, out], or summed over tasks [1, out]."""
    total = d.sum(dim=(0, 1)).unsqueeze(0) if over_tasks else d.sum(dim=1, keepdim=True)
    return total if acc is None else _add_scaled(acc, total, alpha)


def forward(params: Params, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The layer inputs [x, h_1, ..., h_{L-1}] and the output f [T, N, 1]."""
    inputs = [x]
    layers = len(params) // 2
    for layer in range(layers):
        z = _linear(inputs[-1], params[2 * layer], params[2 * layer + 1])
        if layer == layers - 1:
            return inputs, z
        inputs.append(torch.relu_(z))
    raise ValueError("params must hold at least one (weight, bias) pair")


def backward(params: Params, inputs: list[torch.Tensor], delta: torch.Tensor, over_tasks: bool,
             step: Rate | None = None) -> tuple[Params, list[torch.Tensor]]:
    """Backprop of dLoss/df = ``delta`` [T, N, 1]: the parameter gradients (per task, or
    summed over tasks when ``over_tasks``) and dLoss/dz_l of every layer. With a ``step``
    size, the parameters after an SGD step, ``params - step * gradients``, instead of the
    gradients: one fused product per weight, and no per-task gradient tensor to write
    and read again (what wide networks pay for)."""
    layers = len(params) // 2
    grads: Params = [None] * len(params)  # type: ignore[list-item]
    deltas = [None] * layers
    alpha = 1.0 if step is None else -step
    for layer in reversed(range(layers)):
        deltas[layer] = delta
        start_w, start_b = (None, None) if step is None else (params[2 * layer], params[2 * layer + 1])
        grads[2 * layer] = _outer(start_w, inputs[layer], delta, alpha, over_tasks)
        grads[2 * layer + 1] = _column_sum(start_b, delta, alpha, over_tasks)
        if layer > 0:
            delta = _relu_mask(_times_transpose(delta, params[2 * layer]), inputs[layer])
    return grads, deltas  # type: ignore[return-value]


def _concatenate(weight: torch.Tensor, h: torch.Tensor) -> bool:
    """Whether h^T d + hdot^T delta is cheaper as one product of concatenations [T, 2N, .]:
    when copying them costs less than another pass over the weight-sized result."""
    points, (fan_in, fan_out) = h.shape[1], weight.shape[-2:]
    return fan_in * fan_out > 8 * points * (fan_in + fan_out)


def minus_lr_hvp(params: Params, inputs: list[torch.Tensor], deltas: list[torch.Tensor], scale: float,
                 v: Params, lr: Rate, over_tasks: bool) -> Params:
    """v - lr * H v, H the Hessian of each task's support loss at ``params``, for the
    forward ``inputs`` and backprop ``deltas`` cached at ``params`` and the loss
    scale 2/N of dLoss/df. Summed over tasks when ``over_tasks``."""
    layers = len(params) // 2
    hdots: list[torch.Tensor | None] = [None]  # d(input of layer l): zero for x
    for layer in range(layers):
        zdot = _linear(inputs[layer], v[2 * layer], v[2 * layer + 1])
        if layer > 0:
            zdot = torch.baddbmm(zdot, hdots[layer], params[2 * layer])
        if layer < layers - 1:
            hdots.append(_relu_mask(zdot, inputs[layer + 1]))
    ddot = zdot * scale
    out: Params = [None] * len(params)  # type: ignore[list-item]
    for layer in reversed(range(layers)):
        weight, wdot = params[2 * layer], v[2 * layer]
        delta = deltas[layer]
        start_w = wdot.sum(0) if over_tasks else wdot
        start_b = v[2 * layer + 1].sum(0) if over_tasks else v[2 * layer + 1]
        if layer == 0:  # hdot_0 = 0
            out[0] = _outer(start_w, inputs[0], ddot, -lr, over_tasks)
        elif _concatenate(weight, inputs[layer]):  # one pass over the per-task weights, not two
            h, d = torch.cat([inputs[layer], hdots[layer]], dim=1), torch.cat([ddot, delta], dim=1)
            out[2 * layer] = _outer(start_w, h, d, -lr, over_tasks)
        else:
            acc = _outer(start_w, inputs[layer], ddot, -lr, over_tasks)
            out[2 * layer] = _outer(acc, hdots[layer], delta, -lr, over_tasks)
        out[2 * layer + 1] = _column_sum(start_b, ddot, -lr, over_tasks)
        if layer > 0:
            through = _times_transpose(ddot, weight)
            cross = _times_transpose(delta, wdot)
            ddot = _relu_mask(through.add_(cross), inputs[layer])
    return out


class MetaGradient:
    """The forward half of a meta-step (inner loop and query loss) with what the
    backward half needs; :meth:`gradient` is the backward half.

    params: the meta-parameters, batched [T, ...] (e.g. :func:`metaviz.nets.expand_for_tasks`);
    x/y support [T, K, 1], query [T, Q, 1]. ``loss`` [] is the mean query loss after
    ``steps`` SGD steps at ``lr``, ``pre_loss`` [] the mean support loss before them.
    """

    def __init__(self, params: Params, x_support: torch.Tensor, y_support: torch.Tensor,
                 x_query: torch.Tensor, y_query: torch.Tensor, lr: Rate, steps: int, first_order: bool) -> None:
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        tasks, shots = x_support.shape[:2]
        self.lr, self.first_order = lr, first_order
        self.support_scale = 2.0 / shots
        self.points: list[Params] = []  # theta_0 .. theta_{S-1}
        self.caches: list[tuple[list[torch.Tensor], list[torch.Tensor]]] = []
        theta = params
        for step in range(steps):
            inputs, output = forward(theta, x_support)
            residual = output - y_support
            if step == 0:
                self.pre_loss = residual.pow(2).mean()
            stepped, deltas = backward(theta, inputs, residual * self.support_scale, over_tasks=False, step=lr)
            if not first_order:
                self.points.append(theta)
                self.caches.append((inputs, deltas))
            theta = stepped
        self.adapted = theta
        self.query_inputs, output = forward(theta, x_query)
        residual = output - y_query
        self.loss = residual.pow(2).mean()
        self.query_delta = residual * (2.0 / residual.numel())

    def gradient(self) -> Params:
        """dloss/dmeta-parameters, each in the meta-parameters' unbatched shape."""
        single = self.first_order
        v, _ = backward(self.adapted, self.query_inputs, self.query_delta, over_tasks=single)
        for step in reversed(range(len(self.points))):
            inputs, deltas = self.caches[step]
            v = minus_lr_hvp(self.points[step], inputs, deltas, self.support_scale, v, self.lr, over_tasks=step == 0)
        return v


def unflatten(flat: torch.Tensor, shapes: tuple[tuple[int, ...], ...]) -> Params:
    """Views of ``flat`` [N] in ``shapes`` (the inverse of concatenating them)."""
    sizes = [math.prod(shape) for shape in shapes]
    return [part.view(shape) for part, shape in zip(flat.split(sizes), shapes)]


def flat_meta_gradient(flat: torch.Tensor, shapes: tuple[tuple[int, ...], ...], x_support: torch.Tensor,
                       y_support: torch.Tensor, x_query: torch.Tensor, y_query: torch.Tensor, lr: Rate,
                       steps: int, first_order: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole meta-gradient as one pure function of tensors (what is compiled):
    meta-parameters ``flat`` [N] laid out in ``shapes`` -> ((loss, pre_loss) [2], gradient [N])."""
    params = [p.unsqueeze(0).expand(x_support.shape[0], *p.shape) for p in unflatten(flat, shapes)]
    step = MetaGradient(params, x_support, y_support, x_query, y_query, lr, steps, first_order)
    gradient = torch.cat([g.reshape(-1) for g in step.gradient()])
    return torch.stack([step.loss, step.pre_loss]), gradient


def choose_engine(hidden: tuple[int, ...], meta_batch: int) -> str:
    """"hand" or "autograd" for MAML's meta-gradient of a ``hidden`` network.

    Measured once (the gradient alone, one thread, interleaved, against
    ``training_loss().backward()``): 1.66x / 1.80x autograd (1 / 5 inner steps) at
    meta-batch 25 and width 40, 1.86x / 1.83x at meta-batch 100 and width 256, 1.64x at
    width 512 with 5 steps; whole steps in ``python main.py bench --sizes``: 1.30x / 1.57x
    at meta-batch 1000, 1.71x at 1000 x 512, 1.82x at width 1024. It never lost once the
    inner update was fused into the backprop (before that, wide 5-step cases ran at
    0.7-1.0x), so it is the choice everywhere; the rule stays one function so that a
    slower case, if one is measured, is one line here.
    """
    return "hand"
