"""Fused inference copies of the learned dynamics models, for planning (notebooks 05 and 06).

A planner calls the model once per step of the horizon, with a small batch: for notebook
06's PETS planner that is 75 calls per action, each a few dozen small tensor operations
around four matrix multiplies. The classes here compute *the same function* as the model's
own ``forward`` in fewer and larger operations:

* the input normalization is folded into the first layer's weights and the output
  de-normalization into the last layer's (``(x - m) / s @ W = x @ (W / s) - (m / s) @ W``);
* the activations run in place, into buffers kept between calls;
* the last layer (a few outputs) is multiplied with its weights stored transposed, the
  layout the BLAS is fast with for a narrow output;
* the predicted Gaussian is sampled in one fused ``mean + noise * std`` with the noise drawn
  exactly as the plain step draws it (same shape, same generator), so a planner with the
  same seed sees the same random numbers and makes the same plans, up to float rounding.

The folded weights are rebuilt whenever a parameter or buffer of the model changes (after
every training; tracked with the tensors' version counters), and every rebuild is checked
against a reference function that uses the model's own ``forward`` on a probe batch. When the
two disagree (a ``forward`` that computes something else than the course's network), the
copy warns once and falls back to the reference, so planning always uses what the model
computes. No gradients flow through a fused copy: it serves planning only.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FusedEnsemble", "FusedMLP"]

# Relative tolerance of the rebuild check: float32 rounding of the folded weights stays far
# below it; a forward that computes another function (another activation, a missing
# normalization, swapped outputs) is far above it.
CHECK_RTOL = 1e-4
# Hidden width from which the hidden layers run member by member through oneDNN.
ONEDNN_MIN_WIDTH = 128


def _fold(
    weights: list[torch.Tensor],
    biases: list[torch.Tensor],
    in_mean,
    in_std,
    out_mean,
    out_std,
    n_mean: int,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Fold x -> (x - in_mean) / in_std into the first layer and y -> out_mean + out_std * y
    into the first n_mean outputs of the last layer. Weights (E, d_in, d_out), biases
    (E, 1, d_out)."""
    weights, biases = [w.detach().clone() for w in weights], [b.detach().clone() for b in biases]
    w0 = weights[0] / in_std[:, None]
    biases[0] = biases[0] - ((in_mean / in_std) @ weights[0]).unsqueeze(1)
    weights[0] = w0
    weights[-1][..., :n_mean] *= out_std
    biases[-1][..., :n_mean] = biases[-1][..., :n_mean] * out_std + out_mean
    return weights, biases


def _onednn_available() -> bool:
    """Whether this torch has oneDNN's fused linear + activation (the op torch.compile uses on
    CPU) and it computes linear + SiLU here; checked once on a small example."""
    try:
        op = torch.ops.mkldnn._linear_pointwise
        if not torch.backends.mkldnn.is_available():
            return False
        gen = torch.Generator().manual_seed(0)
        x, w, b = (torch.randn(shape, generator=gen) for shape in [(7, 5), (3, 5), (3,)])
        got = op(x, torch.ops.mkldnn._reorder_linear_weight(w, None), b, "swish", [], "")
        return bool(torch.allclose(got, F.silu(F.linear(x, w, b)), rtol=1e-5, atol=1e-6))
    except (AttributeError, RuntimeError):
        return False


_ONEDNN: list[bool] = []  # filled on first use


def _pack(weights: list[torch.Tensor], biases: list[torch.Tensor]):
    """Per layer, per member: (prepacked (d_out, d_in) weight, (d_out,) bias); None without
    oneDNN."""
    if not _ONEDNN:
        _ONEDNN.append(_onednn_available())
    if not _ONEDNN[0]:
        return None
    reorder = torch.ops.mkldnn._reorder_linear_weight
    return [
        [
            (reorder(w_e.t().contiguous(), None), b_e.reshape(-1).contiguous())
            for w_e, b_e in zip(w, b, strict=False)
        ]
        for w, b in zip(weights, biases, strict=False)
    ]


def _linear_silu(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, w, b, "swish", [], "")


def _versions(tensors: list[torch.Tensor]) -> tuple:
    return tuple(t._version for t in tensors)


class _Fused:
    """Shared machinery: rebuild when the model changes, check against the reference, buffers."""

    def __init__(self, model: nn.Module, reference: Callable, in_dim: int, name: str):
        self.model, self.reference, self.in_dim, self.name = model, reference, in_dim, name
        self._key = None
        self._tensor_list: list[torch.Tensor] | None = None
        self.ok = False  # whether the last rebuild matched the reference
        self._warned = False
        self._buffers: dict = {}

    def _tensors(self) -> list[torch.Tensor]:
        # collected once (walking the module at every step would cost more than the step): the
        # parameters and buffers are updated in place by optimizers, set_normalization and
        # load_state_dict, which their version counters record
        if self._tensor_list is None:
            self._tensor_list = list(self.model.parameters()) + list(self.model.buffers())
        return self._tensor_list

    def _refresh(self) -> None:
        key = _versions(self._tensors())
        if key == self._key:
            return
        with torch.no_grad():
            self._build()
            self.ok = self._check()
        self._key = _versions(self._tensors())  # the check may not change them, but be exact
        self._buffers.clear()

    def _probe(self) -> torch.Tensor:
        gen = torch.Generator().manual_seed(1234)  # not the global or a planner's generator
        return torch.randn(self._probe_shape(), generator=gen)

    def _check(self) -> bool:
        x = self._probe() * 2.0 * self._in_std + self._in_mean
        ref = self.reference(x)
        try:
            fused = self._plain(x)
        except RuntimeError as err:  # e.g. a oneDNN op this build or CPU cannot run
            fused, ref, bad = (), (), [f"the fused copy failed: {err}"]
        else:
            bad = []
        fused = (fused,) if torch.is_tensor(fused) else tuple(fused)
        ref = (ref,) if torch.is_tensor(ref) else tuple(ref)
        if len(ref) != len(fused):
            bad.append(f"{len(ref)} outputs instead of {len(fused)}")
        for f, r in zip(fused, ref, strict=False):
            r = torch.as_tensor(r, dtype=f.dtype)
            if r.shape != f.shape or not torch.isfinite(r).all():
                bad.append(
                    f"shape {tuple(r.shape)} vs {tuple(f.shape)}"
                    if r.shape != f.shape
                    else "non-finite"
                )
                continue
            err = float((f - r).abs().max())
            if err > CHECK_RTOL * (1.0 + float(r.abs().max())):
                bad.append(f"max difference {err:.2e}")
        if bad and not self._warned:
            warnings.warn(
                f"{self.name}: the fused planning copy disagrees with the model's forward on a "
                f"probe batch ({'; '.join(bad)}); planning uses the model's forward instead "
                "(slower)",
                RuntimeWarning,
                stacklevel=4,
            )
            self._warned = True
        return not bad

    def _buffer(self, tag, shape) -> torch.Tensor:
        buf = self._buffers.get(tag)
        if buf is None or buf.shape != shape:
            buf = self._buffers[tag] = torch.empty(shape)
        return buf


class FusedEnsemble(_Fused):
    """Planning copy of a probabilistic ensemble (notebook 06's ``GaussianEnsemble``).

    The model must have ``weights`` and ``biases`` (parameter lists of (E, d_in, d_out) and
    (E, 1, d_out) tensors, SiLU between layers), ``min_log_var`` and ``max_log_var`` (the soft
    bounds of the log-variance, ``bound_log_var`` of notebook 06), and the buffers ``in_mean``,
    ``in_std``, ``out_mean``, ``out_std``. ``reference(x)`` must return what :meth:`predict`
    returns, computed with the model's own forward: the mean of the state change in state
    units and the log-variance (normalized units), both (E, B, out_dim), for x (E, B, in_dim).
    """

    def __init__(
        self,
        model: nn.Module,
        reference: Callable,
        name: str = "FusedEnsemble",
        onednn: bool | None = None,
    ):
        super().__init__(model, reference, model.in_dim, name)
        self.n_members, self.out_dim = model.n_members, model.out_dim
        # oneDNN pays for wide layers only: member by member, each call has a fixed cost that
        # narrow layers do not repay (measured in benchmarks/bench_pets.py)
        self.onednn = (
            onednn
            if onednn is not None
            else min(w.shape[2] for w in model.weights[:-1]) >= ONEDNN_MIN_WIDTH
        )

    def _probe_shape(self):
        return (self.n_members, 8, self.in_dim)

    def _build(self) -> None:
        m = self.model
        self._in_mean, self._in_std = m.in_mean.detach().clone(), m.in_std.detach().clone()
        ws, bs = _fold(
            list(m.weights),
            list(m.biases),
            m.in_mean,
            m.in_std,
            m.out_mean,
            m.out_std,
            self.out_dim,
        )
        self._w = ws[:-1] + [
            ws[-1].transpose(1, 2).contiguous().transpose(1, 2)
        ]  # narrow output: transposed
        self._b = bs
        # the hidden-to-hidden layers, member by member: oneDNN linear + SiLU, prepacked weights
        self._packed = _pack(ws[1:-1], bs[1:-1]) if self.onednn and len(ws) > 2 else None
        self._lo, self._hi = m.min_log_var.detach().clone(), m.max_log_var.detach().clone()
        self._log_std = torch.log(m.out_std.detach().clone())

    def _hidden(self, x: torch.Tensor) -> torch.Tensor:
        layers = list(zip(self._w[:-1], self._b[:-1], strict=False))
        if (
            self._packed is not None
        ):  # first layer batched, the hidden ones member by member with oneDNN
            layers = layers[:1]
        h = x
        for i, (w, b) in enumerate(layers):
            out = self._buffer(i, (x.shape[0], x.shape[1], w.shape[2]))
            h = F.silu(torch.baddbmm(b, h, w, out=out), inplace=True)
        if self._packed is not None:
            hs = h.unbind(0)
            for layer in self._packed:
                hs = [
                    _linear_silu(h_e, w_e, b_e) for h_e, (w_e, b_e) in zip(hs, layer, strict=False)
                ]
            h = torch.stack(hs)
        return torch.baddbmm(self._b[-1], h, self._w[-1])

    def _plain(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self._hidden(x)
        raw = out[..., self.out_dim :]
        log_var = self._hi - F.softplus(self._hi - raw)
        log_var = self._lo + F.softplus(log_var - self._lo)
        return out[..., : self.out_dim], log_var

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(E, B, in_dim) -> (mean state change in state units, log-variance in normalized
        units)."""
        self._refresh()
        return self._plain(x) if self.ok else self.reference(x)

    @torch.no_grad()
    def delta(
        self, x: torch.Tensor, sample: bool = True, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The state change (E, B, out_dim) in state units: the predicted mean, plus (sample=True)
        out_std * exp(log_var / 2) * ε, ε = torch.randn((E, B, out_dim), generator=generator)."""
        if x.ndim != 3 or x.shape[0] != self.n_members or x.shape[2] != self.in_dim:
            raise ValueError(
                f"x must have shape ({self.n_members}, B, {self.in_dim}), got {tuple(x.shape)}"
            )
        mean, log_var = self.predict(x)
        if not sample:
            return mean
        noise = torch.randn(mean.shape, generator=generator)
        std = torch.exp(torch.add(self._log_std, log_var, alpha=0.5))
        return torch.addcmul(mean, noise, std)


class FusedMLP(_Fused):
    """Planning copy of a deterministic MLP dynamics model (notebook 05's ``DynamicsModel``).

    The model must have ``net`` (an ``nn.Sequential`` of ``nn.Linear`` layers with ``nn.SiLU``
    between them) and the buffers ``in_mean``, ``in_std``, ``out_mean``, ``out_std``.
    ``reference(x)`` must return the predicted state change in state units,
    ``out_mean + out_std * net((x - in_mean) / in_std)``, computed with the model's own forward,
    for x (B, in_dim). When ``net`` has another structure, the copy always uses the reference.
    """

    def __init__(self, model: nn.Module, reference: Callable, name: str = "FusedMLP"):
        linears = [m for m in model.net if isinstance(m, nn.Linear)]
        super().__init__(model, reference, linears[0].in_features if linears else 0, name)
        layers = list(model.net)
        self.structured = (
            bool(linears)
            and all(
                isinstance(m, nn.Linear) if i % 2 == 0 else isinstance(m, nn.SiLU)
                for i, m in enumerate(layers)
            )
            and len(layers) % 2 == 1
        )

    def _probe_shape(self):
        return (16, self.in_dim)

    def _build(self) -> None:
        m = self.model
        self._in_mean, self._in_std = m.in_mean.detach().clone(), m.in_std.detach().clone()
        if not self.structured:
            return
        linears = [layer for layer in m.net if isinstance(layer, nn.Linear)]
        ws = [layer.weight.detach().t()[None] for layer in linears]  # (1, d_in, d_out)
        bs = [
            (layer.bias.detach() if layer.bias is not None else torch.zeros(layer.out_features))[
                None, None
            ]
            for layer in linears
        ]
        ws, bs = _fold(ws, bs, m.in_mean, m.in_std, m.out_mean, m.out_std, m.out_mean.shape[0])
        self._w = [w[0] for w in ws[:-1]] + [ws[-1][0].t().contiguous().t()]
        self._b = [b[0, 0] for b in bs]

    def _plain(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for i, (w, b) in enumerate(zip(self._w[:-1], self._b[:-1], strict=False)):
            out = self._buffer(i, (x.shape[0], w.shape[1]))
            h = F.silu(torch.addmm(b, h, w, out=out), inplace=True)
        return torch.addmm(self._b[-1], h, self._w[-1])

    def _check(self) -> bool:
        return self.structured and super()._check()

    @torch.no_grad()
    def delta(self, x: torch.Tensor) -> torch.Tensor:
        """The predicted state change (B, out_dim) in state units, for x = (s, a) of shape
        (B, in_dim)."""
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"x must have shape (B, {self.in_dim}), got {tuple(x.shape)}")
        self._refresh()
        return self._plain(x) if self.ok else self.reference(x)
