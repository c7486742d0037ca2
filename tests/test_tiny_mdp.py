"""GIVEN expert state pairs on a chain (walk right to a terminal goal) and online play,
WHEN the soft-Q agent trains with IQ-Learn, THEN its policy reaches the expert's return.

The chain has 8 one-hot states, actions left/stay/right and a 20-step time limit; the
expert's return is -7, a uniformly random walker's about -20. A Q table (linear layer
on one-hot features) keeps each run to a few seconds on one core.
"""

import numpy as np
import pytest
import torch

from lfo.algorithms.agent import SoftQAgent, SoftQConfig
from lfo.algorithms.iq_learner import IQLearner
from lfo.testing.chain import (
    LEFT,
    RIGHT,
    ChainMDP,
    ChainRunConfig,
    chain_settings,
    evaluate,
    expert_transitions,
    train_learner_on_chain,
    train_on_chain,
)

MDP = ChainMDP(n=8, horizon=20)
EXPERT_RETURN = -7.0


def config(variant: str, seed: int = 0) -> SoftQConfig:
    return SoftQConfig(
        obs_dim=MDP.n,
        n_actions=3,
        hidden=(),
        variant=variant,
        alpha=0.1,
        gamma=0.9,
        lr=0.02,
        tau=0.1,
        seed=seed,
    )


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_expert_pairs_and_random_baseline():
    expert, actions = expert_transitions(MDP, episodes=2)
    assert len(expert) == 14 and (actions == RIGHT).all()
    # next state is one step right; only the last step of each episode is terminal
    assert torch.equal(expert.next_obs.argmax(1), expert.obs.argmax(1) + 1)
    assert expert.done.tolist() == ([0.0] * 6 + [1.0]) * 2
    # an untrained agent (near-uniform softmax) is a random walker: return ~ -20
    untrained = SoftQAgent(config("state-only"))
    assert evaluate(untrained, MDP, greedy=False, episodes=20, seed=0) < -18


def test_actions_oracle_learns_expert_policy():
    _, m = train_on_chain(MDP, config("actions"), ChainRunConfig(env_steps=600, warmup=50))
    assert m["return_greedy"] == EXPERT_RETURN
    assert m["return_sampled"] >= EXPERT_RETURN - 1.0
    assert m["greedy_right_frac"] == 1.0


def test_idm_state_pairs_only_learns_expert_policy():
    # no expert actions: an inverse dynamics model trained on the agent's own transitions
    # labels the expert's (s, s') pairs
    agent, m = train_on_chain(MDP, config("idm"), ChainRunConfig(env_steps=1000, warmup=50))
    assert m["idm_accuracy"] > 0.95
    assert m["return_greedy"] == EXPERT_RETURN
    assert m["return_sampled"] >= EXPERT_RETURN - 1.5
    q = agent.q_values(MDP.features(np.arange(MDP.n - 1))).numpy()
    assert (q.argmax(1) == RIGHT).all()


@pytest.mark.parametrize("absorbing", [False, True])
def test_terminal_states_are_no_way_out(absorbing):
    # The collapse mode of the Atari runs, in seconds: the agent's first states look like
    # no expert's (the clips start mid-chain), so IQ gives them negative rewards; stepping
    # left at the start falls off the chain (a terminal). Worth 0, the terminal beats
    # playing on and the agent jumps off at once (return -40, the whole time limit lost);
    # as a learned absorbing state it is worth the least of all and the agent walks right.
    mdp = ChainMDP(n=12, horizon=40, terminal_goal=False, trap=True)
    expert, actions = expert_transitions(mdp, episodes=5, seed=1, first_state=6)
    assert expert.obs.argmax(1).min() == 6
    expert.action = torch.from_numpy(actions)
    cfg = SoftQConfig(obs_dim=mdp.n, n_actions=3, hidden=(), variant="actions", alpha=0.1,
                      gamma=0.9, lr=0.02, tau=0.1, seed=0, absorbing=absorbing)
    learner = IQLearner(chain_settings(mdp), "actions", agent_config=cfg)
    m = train_learner_on_chain(mdp, learner, ChainRunConfig(env_steps=1500, warmup=50),
                               expert=expert)
    start_action = int(learner.act(mdp.features(0), greedy=True))
    if absorbing:
        assert start_action == RIGHT and m["return_greedy"] == -(mdp.n - 1)
        # only the agent reaches it: it settles at -2 alpha_chi / (1 - gamma) = -10
        assert m["v_absorbing"] == pytest.approx(-10.0, abs=0.5)
    else:
        assert start_action == LEFT and m["return_greedy"] == -mdp.horizon
