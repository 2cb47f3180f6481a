"""The diagonal last-layer Laplace posterior over SAM2's final hypernetwork layer.

Parameters: for each mask token t, ``output_hypernetworks_mlps.{t}.layers.2`` maps the
penultimate activation a ∈ R^F (F = 256) to hyper_in = W a + b ∈ R^O (O = 32), and the logit
of pixel p is ℓ_p = hyper_in · u_p (u = the decoder's upscaled per-pixel features).
Likelihood: one Bernoulli per pixel. Its generalised Gauss–Newton diagonal is closed form:
∂ℓ_p/∂W_ok = a_k u_op, ∂ℓ_p/∂b_o = u_op, so GGN(W_ok) = a_k² Σ_p λ_p u_op², GGN(b_o) = Σ_p λ_p u_op²
with λ_p = σ(ℓ_p)(1 − σ(ℓ_p)). Posterior precision = GGN + prior precision δ (a scalar,
chosen by maximising the Laplace marginal likelihood). Because ℓ is linear in (W, b), the
logit of a weight sample is exactly Gaussian with variance Σ_o u_op² (Σ_k a_k²/P_ok + 1/P_o).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn

from ..io.atomic import atomic_path

FORMAT = "napari-ruac-laplace"


class LaplacePosterior(nn.Module):
    """GGN diagonals and the MAP weights they were computed at, for ``num_tokens`` mask tokens."""

    def __init__(
        self,
        num_tokens: int = 4,
        feature_dim: int = 256,
        output_dim: int = 32,
        prior_precision: float = 1.0,
        fit_info: dict | None = None,
    ) -> None:
        super().__init__()
        self.num_tokens, self.feature_dim, self.output_dim = int(num_tokens), int(feature_dim), int(output_dim)
        shape_w = (self.num_tokens, self.output_dim, self.feature_dim)
        shape_b = (self.num_tokens, self.output_dim)
        self.register_buffer("ggn_weight", torch.zeros(shape_w))
        self.register_buffer("ggn_bias", torch.zeros(shape_b))
        self.register_buffer("map_weight", torch.zeros(shape_w))
        self.register_buffer("map_bias", torch.zeros(shape_b))
        self.register_buffer("prior_precision", torch.tensor(float(prior_precision)))
        self.register_buffer("log_likelihood", torch.tensor(0.0))  # Σ log p(y | θ_MAP) over the fit pixels
        self.fit_info = dict(fit_info or {})

    def config(self) -> dict:
        return {
            "num_tokens": self.num_tokens,
            "feature_dim": self.feature_dim,
            "output_dim": self.output_dim,
            "prior_precision": float(self.prior_precision),
            "fit_info": self.fit_info,
        }

    # ---- posterior ------------------------------------------------------------------
    def precision(self, prior_precision: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Diagonal posterior precision (weight (T, O, F), bias (T, O))."""
        prior = self.prior_precision if prior_precision is None else torch.tensor(float(prior_precision))
        prior = prior.to(self.ggn_weight)
        return self.ggn_weight + prior, self.ggn_bias + prior

    def variance(self) -> tuple[torch.Tensor, torch.Tensor]:
        weight, bias = self.precision()
        return weight.reciprocal(), bias.reciprocal()

    def hyper_in_variance(self, activation: torch.Tensor, token: torch.Tensor) -> torch.Tensor:
        """Var(hyper_in_o) = Σ_k a_k² Var(W_ok) + Var(b_o): (B, F), (B,) → (B, O)."""
        var_w, var_b = self.variance()
        return torch.einsum("bf,bof->bo", activation.square(), var_w[token]) + var_b[token]

    def sample_hyper_in_noise(
        self, activation: torch.Tensor, token: torch.Tensor, count: int, generator: torch.Generator | None
    ) -> torch.Tensor:
        """hyper_in(θ_s) − hyper_in(θ_MAP) for ``count`` weight samples θ_s: (count, B, O)."""
        var_w, var_b = self.variance()
        b = activation.shape[0]
        where = activation.device if generator is None else generator.device  # e.g. a CPU generator for MPS
        eps_w = torch.randn((count, b, self.output_dim, self.feature_dim), generator=generator, device=where)
        eps_b = torch.randn((count, b, self.output_dim), generator=generator, device=where)
        eps_w, eps_b = eps_w.to(activation.device), eps_b.to(activation.device)
        noise_w = eps_w * var_w[token].sqrt()[None]
        noise_b = eps_b * var_b[token].sqrt()[None]
        return torch.einsum("kbof,bf->kbo", noise_w, activation) + noise_b

    # ---- marginal likelihood --------------------------------------------------------
    def _ggn_and_map(self) -> tuple[torch.Tensor, torch.Tensor]:
        ggn = torch.cat([self.ggn_weight.reshape(-1), self.ggn_bias.reshape(-1)]).double()
        theta = torch.cat([self.map_weight.reshape(-1), self.map_bias.reshape(-1)]).double()
        return ggn, theta

    def log_marginal_likelihood(self, prior_precision: float | None = None) -> float:
        """log p(D|θ_MAP) − ½[log det P − log det P₀ + δ‖θ_MAP‖²] (prior mean 0), as laplace-torch."""
        delta = float(self.prior_precision if prior_precision is None else prior_precision)
        ggn, theta = self._ggn_and_map()
        log_det_ratio = torch.log(ggn + delta).sum() - ggn.numel() * math.log(delta)
        scatter = delta * theta.square().sum()
        return float(self.log_likelihood) - 0.5 * float(log_det_ratio + scatter)

    def optimize_prior_precision(self, low: float = 1e-8, high: float = 1e8) -> float:
        """Set δ to the maximiser of the marginal likelihood (unique: bisection on its derivative)."""
        ggn, theta = self._ggn_and_map()
        scatter = float(theta.square().sum())
        n = ggn.numel()

        def slope(log_delta: float) -> float:  # −2 · d(log marglik)/d(log δ)
            delta = math.exp(log_delta)
            return float((delta / (ggn + delta)).sum()) - n + delta * scatter

        lo, hi = math.log(low), math.log(high)
        if slope(lo) >= 0:
            best = low
        elif slope(hi) <= 0:
            best = high
        else:
            for _ in range(200):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if slope(mid) < 0 else (lo, mid)
            best = math.exp(0.5 * (lo + hi))
        self.prior_precision.fill_(best)
        return best

    # ---- the model it belongs to ----------------------------------------------------
    def check_model(self, decoder: nn.Module, atol: float = 1e-5) -> None:
        """Refuse to run on a decoder whose last hypernetwork layers differ from the fitted ones."""
        mlps = decoder.output_hypernetworks_mlps
        if len(mlps) < self.num_tokens:
            raise ValueError(f"this Laplace posterior covers {self.num_tokens} mask tokens; the model has {len(mlps)}.")
        for t in range(self.num_tokens):
            layer = mlps[t].layers[-1]
            if tuple(layer.weight.shape) != (self.output_dim, self.feature_dim):
                raise ValueError(
                    f"this Laplace posterior is for {self.output_dim}×{self.feature_dim} hypernetwork layers; "
                    f"the model's is {tuple(layer.weight.shape)}: it belongs to another SAM2 size."
                )
            same = torch.allclose(layer.weight.detach().to(self.map_weight), self.map_weight[t], atol=atol) and (
                torch.allclose(layer.bias.detach().to(self.map_bias), self.map_bias[t], atol=atol)
            )
            if not same:
                raise ValueError(
                    "this Laplace posterior was fitted on other mask-decoder weights than this model's; "
                    "refit it for this model with napari_ruac.uq.laplace.fit_laplace(model, images, masks)."
                )


# ---- files ----------------------------------------------------------------------------
def _paths(path: str | Path) -> tuple[Path, Path]:
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".json", ".safetensors") else path
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def save_laplace(posterior: LaplacePosterior, path: str | Path) -> tuple[Path, Path]:
    """Write ``path.safetensors`` (GGN + MAP tensors) and ``path.json`` (config), atomically."""
    from safetensors.torch import save_file

    weights, config = _paths(path)
    with atomic_path(weights) as temporary:
        save_file({k: v.detach().cpu().contiguous() for k, v in posterior.state_dict().items()}, str(temporary))
    with atomic_path(config) as temporary:
        temporary.write_text(json.dumps({"format": FORMAT, "config": posterior.config()}, indent=2))
    return weights, config


def load_laplace(path: str | Path) -> LaplacePosterior:
    """Read a posterior written by :func:`save_laplace` (clear errors for wrong files)."""
    from ..models.checkpoint import CheckpointError, load_into, read_safetensors

    weights, config_path = _paths(path)
    try:
        meta = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"Laplace posterior config {config_path} is unreadable: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{config_path} is not a napari-ruac Laplace posterior (format={meta.get('format')!r}).")
    posterior = LaplacePosterior(**meta["config"])
    load_into(posterior, read_safetensors(weights), str(weights), "Laplace posterior")
    return posterior
