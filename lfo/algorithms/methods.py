"""Learners by name: the project's IQ-Learn variants, the baselines and the oracles.

=================  ==========================================================  ========
name               what it learns from                                         env steps
=================  ==========================================================  ========
``iq-idm``         expert (s, s') + own play; IDM labels, action-form IQ-Learn  yes
``iq-state-only``  expert (s, s') + own play; IQ-Learn section 5.4              yes
``bco``            expert (s, s') + own play; BCO(alpha), Torabi et al. 2018    yes
``gaifo``          expert (s, s') + own play; GAIfO discriminator + soft-Q      yes
``oracle-iq``      ORACLE: recorded expert actions + own play; IQ-Learn         yes
``oracle-bc``      ORACLE: recorded expert actions only; behavioural cloning    no (0)
=================  ==========================================================  ========

The two ``oracle-*`` methods use the recorded expert actions, which the state-only
methods never see; they bound what perfect action labels would give. The random policy
(floor) and the expert's recorded return (ceiling) are measured by every run
(``random_return``, ``expert_return`` in ``final.json``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lfo.algorithms.bc import BCOracle
from lfo.algorithms.bco import BCOLearner
from lfo.algorithms.gaifo import GAIfOLearner
from lfo.algorithms.iq_learner import IQ_METHODS, IQLearner
from lfo.algorithms.learner import (
    ORACLE_NOTE,
    AgentSampler,
    Learner,
    LearnerSettings,
)


@dataclass(frozen=True)
class Method:
    """A registered method: how to build it and what it is allowed to see."""

    name: str
    description: str
    uses_expert_actions: bool
    interacts: bool
    build: Callable[[LearnerSettings, AgentSampler | None, dict], Learner]

    @property
    def label(self) -> str:
        """The name as tables and plots show it (oracles say so)."""
        return f"{self.name} [{ORACLE_NOTE}]" if self.uses_expert_actions else self.name


METHODS: dict[str, Method] = {
    "iq-idm": Method(
        "iq-idm", "IQ-Learn on expert pairs labelled by an inverse dynamics model", False, True,
        lambda s, sampler, opts: IQLearner(s, IQ_METHODS["iq-idm"], sampler)),
    "iq-state-only": Method(
        "iq-state-only", "state-only IQ-Learn (policy expectation, paper section 5.4)", False,
        True, lambda s, sampler, opts: IQLearner(s, IQ_METHODS["iq-state-only"], sampler)),
    "bco": Method(
        "bco", "BCO(alpha): IDM labels from own play, behavioural cloning", False, True,
        lambda s, sampler, opts: BCOLearner(s, sampler, opts)),
    "gaifo": Method(
        "gaifo", "GAIfO: (s, s') discriminator reward, off-policy soft-Q", False, True,
        lambda s, sampler, opts: GAIfOLearner(s, opts)),
    "oracle-iq": Method(
        "oracle-iq", f"IQ-Learn with the recorded expert actions; {ORACLE_NOTE}", True, True,
        lambda s, sampler, opts: IQLearner(s, IQ_METHODS["oracle-iq"], sampler)),
    "oracle-bc": Method(
        "oracle-bc", f"behavioural cloning of the recorded expert actions, offline; {ORACLE_NOTE}",
        True, False, lambda s, sampler, opts: BCOracle(s, opts)),
}


def get_method(name: str) -> Method:
    """The registered method ``name`` (a clear error lists the choices)."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of {sorted(METHODS)}") from None


def build_learner(
    name: str,
    settings: LearnerSettings,
    sample_agent: AgentSampler | None = None,
    options: dict | None = None,
) -> Learner:
    """Build method ``name``'s learner; ``options`` set fields of its own config dataclass."""
    method = get_method(name)
    if options and name in IQ_METHODS:
        raise ValueError(f"{name} takes no method options (set TrainConfig fields instead)")
    return method.build(settings, sample_agent, dict(options or {}))


__all__ = [
    "METHODS",
    "ORACLE_NOTE",
    "AgentSampler",
    "Learner",
    "LearnerSettings",
    "Method",
    "build_learner",
    "get_method",
]
