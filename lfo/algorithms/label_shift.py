"""From the agent's action frequencies to the expert's: label-shift correction of IDM labels.

An inverse dynamics model trained on the agent's own transitions estimates the agent's
posterior p_b(a | s, s') = p(s' | s, a) p_b(a | s) / Z: the agent's behaviour is its prior.
Where a step's effect is small against the state's noise (CarRacing's gas against coasting
after a steer), that prior decides the label, and the expert is labelled with the agent's
habits. Dividing by a behaviour model p_b(a | s) fitted on the same transitions leaves the
likelihood p(s' | s, a) (up to a factor per pair); the expert's action frequencies w are
then estimated from the expert pairs themselves by expectation-maximisation, as for
priors under label shift (Saerens, Latinne and Decaestecker, Neural Computation 2002),
and the corrected label is likelihood x w, normalised. No expert action is read.

The maths are pure functions (:func:`likelihood_from_posterior`, :func:`em_prior_step`);
:class:`LabelShiftCorrection` holds the behaviour model and the running estimate of w.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lfo.algorithms.agent import build_mlp
from lfo.data.safe_load import safe_load, safe_save


def likelihood_from_posterior(posterior: Tensor, behaviour: Tensor, floor: float) -> Tensor:
    """p(s' | s, a) up to a factor per row: ``posterior / max(behaviour, floor)``, (N, A).

    The floor keeps actions the agent rarely takes from being blown up by a behaviour
    model that is unsure of them."""
    if posterior.shape != behaviour.shape:
        raise ValueError(f"posterior {tuple(posterior.shape)} and behaviour "
                         f"{tuple(behaviour.shape)} differ in shape")
    return posterior / behaviour.clamp_min(floor)


def posterior_under_prior(likelihood: Tensor, prior: Tensor) -> Tensor:
    """Rows of ``likelihood * prior``, normalised to sum to 1."""
    q = likelihood * prior
    return q / q.sum(dim=1, keepdim=True).clamp_min(1e-12)


def em_prior_step(likelihood: Tensor, prior: Tensor) -> tuple[Tensor, Tensor]:
    """One EM step for the class frequencies of unlabelled samples: the posteriors under
    ``prior``, and their mean (the next prior)."""
    q = posterior_under_prior(likelihood, prior)
    return q.mean(dim=0), q


@dataclass
class LabelShiftConfig:
    """Hyper-parameters of :class:`LabelShiftCorrection`."""

    obs_dim: int
    n_actions: int
    hidden: tuple[int, ...] = (256, 256)
    """Hidden sizes of the behaviour model p_b(a | s)."""
    lr: float = 1e-3
    """Adam learning rate of the behaviour model."""
    floor: float = 0.05
    """Smallest behaviour probability divided by (:func:`likelihood_from_posterior`)."""
    prior_rate: float = 0.01
    """Weight of each expert batch's EM step in the running prior (an online EM)."""
    seed: int | None = None


class LabelShiftCorrection(nn.Module):
    """A behaviour model p_b(a | s) of the agent and a running estimate of the expert's
    action frequencies; :meth:`correct` turns IDM posteriors on expert pairs into labels
    under the expert's prior."""

    def __init__(self, config: LabelShiftConfig) -> None:
        super().__init__()
        self.config = config
        if config.seed is not None:
            torch.manual_seed(config.seed)
        self.net = build_mlp(config.obs_dim, config.n_actions, tuple(config.hidden))
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr)
        self.register_buffer("prior", torch.full((config.n_actions,), 1.0 / config.n_actions))

    @torch.no_grad()
    def behaviour(self, obs: Tensor) -> Tensor:
        """p_b(a | s), (N, A)."""
        return self.net(obs).softmax(dim=-1)

    def update(self, obs: Tensor, action: Tensor) -> dict[str, float]:
        """One cross-entropy step of the behaviour model on agent transitions."""
        device = self.prior.device
        loss = F.cross_entropy(self.net(obs.to(device)), action.to(device).long())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"behaviour_loss": loss.item()}

    @torch.no_grad()
    def correct(self, obs: Tensor, posterior: Tensor, learn_prior: bool = True) -> Tensor:
        """Labels p(a | s, s') under the expert's prior for an expert batch's IDM
        ``posterior``; with ``learn_prior`` the batch also moves the running prior one
        online-EM step (``prior_rate``) towards its posteriors' mean."""
        likelihood = likelihood_from_posterior(posterior, self.behaviour(obs),
                                               self.config.floor)
        if learn_prior:
            batch_prior, _ = em_prior_step(likelihood, self.prior)
            self.prior.mul_(1 - self.config.prior_rate).add_(
                self.config.prior_rate * batch_prior)
        return posterior_under_prior(likelihood, self.prior)

    def save(self, path: str | os.PathLike) -> None:
        """Config, behaviour model, optimiser and prior to ``path``, atomically."""
        safe_save({"config": asdict(self.config), "net": self.net.state_dict(),
                   "optimizer": self.optimizer.state_dict(), "prior": self.prior.cpu()}, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> LabelShiftCorrection:
        """Rebuild what :meth:`save` wrote."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no label-shift checkpoint at {path}")
        state = safe_load(path)
        cfg = dict(state["config"])
        cfg["hidden"] = tuple(cfg["hidden"])
        model = cls(LabelShiftConfig(**cfg))
        model.net.load_state_dict(state["net"])
        model.optimizer.load_state_dict(state["optimizer"])
        model.prior.copy_(state["prior"])
        return model
