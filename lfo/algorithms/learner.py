"""The learner interface: what the trainer, the chain test bed and the benchmark drive.

A learner turns batches of expert pairs and agent transitions (feature vectors, see
:class:`lfo.algorithms.agent.Transitions`) into a policy. The online loops
(:class:`lfo.loop.trainer.Trainer`
on real games, :func:`lfo.testing.chain.train_learner_on_chain` on the tiny chain) own the env,
the replay, the expert sampler, evaluation and checkpoints; a learner owns only its
networks and optimisers. Every method in :mod:`lfo.algorithms.methods` (IQ-Learn variants, BCO,
GAIfO and the action-labelled oracles) is one :class:`Learner`.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tyro.conf import Suppress

from lfo.data.transitions import Transitions

#: draws a fresh batch of n agent transitions from the replay (the loop's own generator)
AgentSampler = Callable[[int], Transitions]

#: how oracle methods are labelled everywhere (names, tables, plots, docs)
ORACLE_NOTE = "oracle (uses recorded expert actions)"


@dataclass
class LearnerSettings:
    """Hyper-parameters shared by all learners (each method reads the ones it needs).

    The one declaration of these settings: a run's config holds them
    (``TrainConfig.learner``, flags ``--learner.lr`` etc.) and the loop passes them down with
    the three facts only the data can tell (feature length, action count, run seed) filled in
    by :meth:`for_problem`, so every method of a benchmark sees the same values.
    """

    obs_dim: Suppress[int] = 0
    """Length of the feature vector (set by the loop from the data)."""
    n_actions: Suppress[int] = 0
    """Number of discrete actions (set by the loop from the env)."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden sizes of the Q head, the behavioural-cloning policy and the discriminator."""
    alpha: float = 0.01
    """Soft-Q temperature (IQ, GAIfO): pi = softmax(Q / alpha)."""
    gamma: float = 0.99
    """Discount."""
    chi2_alpha: float = 0.5
    """IQ's chi^2 coefficient alpha_chi."""
    lr: float = 3e-4
    """Learning rate of the policy / Q head (and the discriminator unless a method overrides)."""
    tau: float = 0.005
    """Polyak rate of target networks."""
    target_update_interval: int = 1
    """Updates between target-network refreshes: 1 = Polyak with tau every update; N > 1 =
    a hard copy every N updates (IQ-Learn's Atari configs use 1,000)."""
    grad_clip: float = 10.0
    """Gradient-norm clip of the Q head."""
    double_q: bool = False
    """Soft double-Q target (soft-Q learners)."""
    grad_penalty: float = 0.0
    """IQ: weight of the 1-Lipschitz penalty on V between expert and agent states."""
    bc_weight: float = 0.0
    """IQ with labels (iq-idm, oracle-iq): weight of a cloning term on the expert batch's
    labels, alpha * cross-entropy of softmax(Q / alpha) (0: plain IQ-Learn; iq-state-only
    has no labels and ignores it)."""
    absorbing: bool | None = None
    """IQ: a terminal transition enters a learned absorbing state (DAC's) instead of a
    state worth 0, so that ending an episode is not a way out of negative rewards. None:
    the game's default (on for the Atari games, off for CarRacing; docs/learners.md)."""
    lr_end_fraction: float | None = None
    """Every learning rate of the learner (Q head, IDM, discriminator) at the end of the
    run, as a fraction of its start, reached linearly over the agent steps after warm-up
    (1.0: constant, as in IQ-Learn; 0.1: a tenth at the end; SB3's linear schedule).
    None: the game's default (0.1 on CarRacing and Breakout, 1.0 on Pong; docs/learners.md)."""
    average_decay: float = 0.0
    """IQ: also keep an exponential moving average of the Q head's weights (decay per
    update; 0.999 averages over about the last 1,000 updates) and evaluate the policy it
    gives beside the learner's own (averaged_* columns in eval.csv, averaged in
    final.json). 0: none."""
    idm_hidden: tuple[int, ...] = (256, 256)
    """Hidden sizes of inverse dynamics models (IQ-idm, BCO)."""
    idm_lr: float = 1e-3
    """Inverse dynamics learning rate."""
    idm_update_every: int = 2
    """Steps between inverse dynamics updates (each on a fresh 2x batch when the loop
    offers a sampler, else on the step's agent batch)."""
    idm_soft: bool = True
    """IQ-idm: label expert pairs with p(a | s, s') (True) or its argmax (False)."""
    idm_label_shift: bool | None = None
    """IQ-idm: correct the IDM's labels from the agent's action frequencies to the
    expert's (a behaviour model p_b(a | s) of the agent and an EM estimate of the expert's
    frequencies; lfo.algorithms.label_shift). None: the game's default (off on every game:
    on CarRacing the labels improve and the return falls; docs/learners.md)."""
    seed: Suppress[int | None] = None
    """Seeds network initialisation and action sampling (the run's seed)."""

    def for_problem(self, obs_dim: int, n_actions: int, seed: int | None) -> LearnerSettings:
        """These settings for a problem: feature length, action count and seed filled in."""
        if self.lr_end_fraction is not None and self.lr_end_fraction < 0:
            raise ValueError(f"--learner.lr-end-fraction must be >= 0, got {self.lr_end_fraction}")
        if obs_dim <= 0 or n_actions <= 0:
            raise ValueError(f"obs_dim and n_actions must be positive, got {obs_dim}, "
                             f"{n_actions}")
        return dataclasses.replace(self, obs_dim=obs_dim, n_actions=n_actions, seed=seed)


#: what a setting left None takes on a game whose spec names no default for it
UNSET_LEARNER_DEFAULTS: dict[str, Any] = {"absorbing": False, "lr_end_fraction": 1.0,
                                          "idm_label_shift": False}


class Learner(abc.ABC):
    """A policy learner on feature vectors.

    Attributes:
        name: the method's registry name (``iq-idm``, ``bco``, ``oracle-bc``...).
        uses_expert_actions: True for the oracles only: their expert batches carry the
            recorded expert actions; every other learner gets ``expert.action is None``.
        interacts: False for offline learners (behavioural cloning on expert actions):
            the loop then takes no env steps and passes ``agent=None``.
    """

    name: str = ""
    uses_expert_actions: bool = False
    interacts: bool = True

    @abc.abstractmethod
    def act(self, features: np.ndarray | Tensor, greedy: bool = False) -> int | np.ndarray:
        """Action for a (D,) feature vector (int), or actions for an (N, D) batch."""

    @abc.abstractmethod
    def update(
        self, expert: Transitions, agent: Transitions | None, step: int
    ) -> dict[str, float]:
        """One learning step on an expert batch and an agent batch; returns diagnostics.

        ``step`` counts the learner's updates (0, 1, 2 ...), for schedules such as
        "update the inverse dynamics model every k updates": they follow the loop's update
        ratio.
        """

    @abc.abstractmethod
    def save(self, folder: Path) -> None:
        """Write networks, optimisers and sampling generator state under ``folder``."""

    @abc.abstractmethod
    def load(self, folder: Path) -> None:
        """Restore in place what :meth:`save` wrote (raises if a file is missing/corrupt)."""

    def expert_reward(self, obs: Tensor, next_obs: Tensor) -> np.ndarray | None:
        """The method's reward r(s, s') along expert pairs, if it has one (for a plot)."""
        return None

    def averaged(self) -> Learner | None:
        """A copy that acts with averaged weights, for evaluation (``None``: the learner
        keeps no average)."""
        return None

    def optimizers(self) -> list[torch.optim.Optimizer]:
        """Every optimiser of the learner: its own and those of its networks."""
        found: list[torch.optim.Optimizer] = []
        for value in vars(self).values():
            if isinstance(value, torch.optim.Optimizer):
                found.append(value)
            elif isinstance(value, torch.nn.Module) or hasattr(value, "move_to"):
                found.extend(v for v in vars(value).values()
                             if isinstance(v, torch.optim.Optimizer))
        return found

    def scale_learning_rates(self, scale: float) -> None:
        """Set every optimiser's learning rate to ``scale`` times its starting value (one
        step of a schedule; the start is kept as ``initial_lr`` in each parameter group,
        torch's own convention, so it survives a checkpoint)."""
        for optimiser in self.optimizers():
            for group in optimiser.param_groups:
                group.setdefault("initial_lr", group["lr"])
                group["lr"] = group["initial_lr"] * scale

    def to(self, device: torch.device | str) -> Learner:
        """Move every network (and its optimiser's state) to ``device``; batches given to
        :meth:`update` and features given to :meth:`act` may live anywhere."""
        for value in vars(self).values():
            if isinstance(value, torch.nn.Module) or hasattr(value, "move_to"):
                move(value, device)
            elif isinstance(value, torch.optim.Optimizer):
                move_optimizer_state(value, device)
        return self


def move(owner: Any, device: torch.device | str) -> None:
    """Move an ``nn.Module`` or an object with ``move_to(device)`` to ``device``."""
    if isinstance(owner, torch.nn.Module):
        owner.to(device)
        for optimiser in [v for v in vars(owner).values()
                          if isinstance(v, torch.optim.Optimizer)]:
            move_optimizer_state(optimiser, device)
    else:
        owner.move_to(device)


def move_optimizer_state(optimizer: torch.optim.Optimizer, device: torch.device | str) -> None:
    """Move an optimiser's per-parameter state tensors (Adam's moments) to ``device``."""
    for state in optimizer.state.values():
        for key, value in state.items():
            if isinstance(value, Tensor) and value.dim() > 0:
                state[key] = value.to(device)


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda`` or ``cuda:N``; asking
    for CUDA on a machine without it is a clear error, not a silent fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {name!r}: use auto, cpu or cuda") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: this machine has no CUDA device (torch "
                         f"{torch.__version__}); use --device cpu or auto")
    return device


def apply_options(config: Any, options: dict[str, Any] | None, method: str) -> Any:
    """A copy of a method's dataclass ``config`` with ``options`` applied; unknown keys fail."""
    options = dict(options or {})
    names = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for method {method!r}; "
                         f"it accepts {sorted(names)}")
    return dataclasses.replace(config, **options)


def as_batch(features: np.ndarray | Tensor,
             device: torch.device | str = "cpu") -> tuple[Tensor, bool]:
    """``features`` as a float (N, D) tensor on ``device``, and whether a single (D,)
    vector was given."""
    x = features if isinstance(features, Tensor) else torch.as_tensor(np.asarray(features))
    x = x.to(device, torch.float32)
    single = x.dim() == 1
    return (x.unsqueeze(0) if single else x), single


def choose_actions(
    probs: Tensor, greedy: bool, rng: np.random.Generator, single: bool
) -> int | np.ndarray:
    """Argmax or an inverse-CDF draw (with ``rng``, so runs are reproducible) per row."""
    p = probs.double().cpu().numpy()
    if greedy:
        actions = p.argmax(axis=1)
    else:
        u = rng.random((p.shape[0], 1))
        actions = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), p.shape[1] - 1)
    return int(actions[0]) if single else actions.astype(np.int64)


def save_rng(rng: np.random.Generator) -> dict[str, Any]:
    """A generator's state (picklable)."""
    return rng.bit_generator.state


def load_rng(rng: np.random.Generator, state: dict[str, Any]) -> None:
    """Restore a generator's state in place."""
    rng.bit_generator.state = state
