"""Demonstrations: the scripted experts, the recorder that makes clip folders, what a clip
folder says about itself (:mod:`lfo.demonstrations.clips`), and the one reader of the
recorded expert actions (:mod:`lfo.demonstrations.labels`; evaluation and labelled oracles
only). :mod:`lfo.demonstrations.privileged_clips` regenerates the expert's simulator state
(the privileged rung)."""
