"""The agent's worlds: the games and their options (:mod:`lfo.envs.games`), the
privileged simulator state (:mod:`lfo.envs.privileged`), a faster CarRacing renderer, and
running a policy for scored episodes (:mod:`lfo.envs.evaluate`)."""
