"""A vanilla RNN in NumPy with hand-written backpropagation through time (BPTT).

The whole algorithm on one screen, in the spirit of Karpathy's ``min-char-rnn.py``, with
names that match the equations. Row-vector convention, so the weight shapes are exactly
those of ``keras.layers.SimpleRNNCell`` (``kernel``, ``recurrent_kernel``, ``bias``) followed
by ``keras.layers.Dense`` (``kernel``, ``bias``), and weights copy across unchanged.

Forward, for a batch of B sequences of T steps with D features, H hidden units, O outputs::

    h_0 = 0                                              (B, H)
    h_t = tanh(x_t Wx + h_{t-1} Wh + bh)    t = 1..T    (B, H)   Wx (D, H), Wh (H, H), bh (H,)
    y   = h_T Wy + by                                    (B, O)   Wy (H, O), by (O,)
    L   = mean((y - target)^2)                           over all B*O numbers

Backward (BPTT): the same weights are used at every step, so their gradients are sums over t::

    dy      = 2 (y - target) / (B O)
    dWy     = h_T^T dy          dby = sum_b dy
    dh_T    = dy Wy^T
    draw_t  = (1 - h_t^2) * dh_t                 (tanh' at step t)
    dWx    += x_t^T draw_t      dWh += h_{t-1}^T draw_t      dbh += sum_b draw_t
    dh_{t-1} = draw_t Wh^T                       (one multiply by Wh^T per step: this product
                                                  of Jacobians is what vanishes or explodes)

>>> import numpy as np
>>> params = init_params(n_in=1, n_hidden=4, n_out=1, seed=0)
>>> xs = np.zeros((25, 3, 1)); targets = np.zeros((3, 1))
>>> loss, cache = forward(params, xs, targets)
>>> sorted(backward(params, cache))
['Wh', 'Wx', 'Wy', 'bh', 'by']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Params = dict[str, np.ndarray]
PARAM_NAMES = ("Wx", "Wh", "bh", "Wy", "by")


def init_params(n_in: int, n_hidden: int, n_out: int, seed: int = 0) -> Params:
    """Keras's default initialisers: Glorot-uniform Wx and Wy, orthogonal Wh, zero biases."""
    rng = np.random.default_rng(seed)

    def glorot(fan_in: int, fan_out: int) -> np.ndarray:
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=(fan_in, fan_out))

    q, r = np.linalg.qr(rng.normal(size=(n_hidden, n_hidden)))
    return {
        "Wx": glorot(n_in, n_hidden),
        "Wh": q * np.sign(np.diag(r)),
        "bh": np.zeros(n_hidden),
        "Wy": glorot(n_hidden, n_out),
        "by": np.zeros(n_out),
    }


@dataclass
class Cache:
    """What the backward pass needs from the forward pass."""

    xs: np.ndarray  # (T, B, D) inputs
    hs: np.ndarray  # (T + 1, B, H) hidden states; hs[0] = h_0 = 0
    y: np.ndarray  # (B, O) prediction from the last step
    targets: np.ndarray  # (B, O)


def forward(params: Params, xs: np.ndarray, targets: np.ndarray) -> tuple[float, Cache]:
    """Run the RNN over ``xs`` (T, B, D); return the MSE of the last-step prediction and a cache."""
    T, B, _ = xs.shape
    hs = np.zeros((T + 1, B, params["Wh"].shape[0]))
    for t in range(1, T + 1):
        hs[t] = np.tanh(xs[t - 1] @ params["Wx"] + hs[t - 1] @ params["Wh"] + params["bh"])
    y = hs[T] @ params["Wy"] + params["by"]
    loss = float(np.mean((y - targets) ** 2))
    return loss, Cache(xs=xs, hs=hs, y=y, targets=targets)


def predict(params: Params, xs: np.ndarray) -> np.ndarray:
    """The last-step prediction y (B, O) for inputs ``xs`` (T, B, D)."""
    _, cache = forward(params, xs, np.zeros((xs.shape[1], params["by"].shape[0])))
    return cache.y


def backward(params: Params, cache: Cache) -> Params:
    """Gradients of the MSE with respect to every parameter, by BPTT (equations in the module doc)."""
    xs, hs = cache.xs, cache.hs
    T = xs.shape[0]
    grads = {name: np.zeros_like(value) for name, value in params.items()}
    dy = 2.0 * (cache.y - cache.targets) / cache.y.size
    grads["Wy"] = hs[T].T @ dy
    grads["by"] = dy.sum(axis=0)
    dh = dy @ params["Wy"].T
    for t in range(T, 0, -1):
        draw = (1.0 - hs[t] ** 2) * dh
        grads["Wx"] += xs[t - 1].T @ draw
        grads["Wh"] += hs[t - 1].T @ draw
        grads["bh"] += draw.sum(axis=0)
        dh = draw @ params["Wh"].T
    return grads


def global_norm(grads: Params) -> float:
    """sqrt(sum of every squared gradient entry): the norm of all gradients as one vector."""
    return float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))


def clip_by_global_norm(grads: Params, clip_norm: float) -> Params:
    """Scale all gradients by min(1, clip_norm / global_norm): direction kept, length capped."""
    scale = min(1.0, clip_norm / max(global_norm(grads), 1e-12))
    return {name: g * scale for name, g in grads.items()}


def clip_by_value(grads: Params, limit: float) -> Params:
    """Clip every gradient entry to [-limit, limit] (what min-char-rnn does with limit 5)."""
    return {name: np.clip(g, -limit, limit) for name, g in grads.items()}


class Adam:
    """Adam with Keras's update rule and defaults, so NumPy and Keras runs can be compared.

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
    """

    def __init__(self, lr: float = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-7):
        self.lr, self.b1, self.b2, self.eps = lr, b1, b2, eps
        self.t = 0
        self.m: Params = {}
        self.v: Params = {}

    def step(self, params: Params, grads: Params) -> None:
        """Update ``params`` in place."""
        self.t += 1
        lr_t = self.lr * np.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        for name, g in grads.items():
            m = self.m.setdefault(name, np.zeros_like(g))
            v = self.v.setdefault(name, np.zeros_like(g))
            m += (1 - self.b1) * (g - m)
            v += (1 - self.b2) * (g**2 - v)
            params[name] -= lr_t * m / (np.sqrt(v) + self.eps)


def train(
    params: Params,
    xs: np.ndarray,
    targets: np.ndarray,
    steps: int,
    lr: float = 1e-2,
    clip_norm: float | None = 1.0,
) -> list[float]:
    """Full-batch training: forward, BPTT, clip by global norm, Adam. Returns the loss per step."""
    optimizer = Adam(lr=lr)
    losses = []
    for _ in range(steps):
        loss, cache = forward(params, xs, targets)
        grads = backward(params, cache)
        if clip_norm is not None:
            grads = clip_by_global_norm(grads, clip_norm)
        optimizer.step(params, grads)
        losses.append(loss)
    return losses


def numerical_gradient(
    params: Params, xs: np.ndarray, targets: np.ndarray, eps: float = 1e-6
) -> Params:
    """Central finite differences (L(p + eps) - L(p - eps)) / 2 eps: the check on ``backward``."""
    grads = {}
    for name, value in params.items():
        grad = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            old = value[index]
            value[index] = old + eps
            plus, _ = forward(params, xs, targets)
            value[index] = old - eps
            minus, _ = forward(params, xs, targets)
            value[index] = old
            grad[index] = (plus - minus) / (2 * eps)
        grads[name] = grad
    return grads


def sine_dataset(
    n_samples: int = 200, n_steps: int = 25, step: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """A sine wave cut into ``n_samples`` windows of ``n_steps`` values; target: the next value.

    Returns ``xs`` (n_steps, n_samples, 1), time-major as ``forward`` takes them, and
    ``targets`` (n_samples, 1). Sample i holds sin(step * (i .. i + n_steps - 1)) and its target
    is sin(step * (i + n_steps)).
    """
    wave = np.sin(step * np.arange(n_samples + n_steps))
    windows = np.stack([wave[i : i + n_steps] for i in range(n_samples)])  # (N, T)
    targets = wave[n_steps : n_steps + n_samples, None]  # (N, 1)
    return windows.T[:, :, None], targets
