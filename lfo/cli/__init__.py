"""The command-line entry points, one module per task (the top of the flow: it may import
every other folder). Each module's ``main(argv)`` is declared in pyproject.toml as a
console command, and ``scripts/<module>.py`` runs the same ``main`` from a checkout:

| command | module | task |
|---|---|---|
| ``lfo-train`` | ``train_lfo`` | learn to play from a clip folder |
| ``lfo-benchmark`` | ``benchmark`` | methods side by side over seeds |
| ``lfo-shift-eval`` | ``shift_eval`` | a trained agent under distribution shift |
| ``lfo-inspect-videos`` | ``inspect_videos`` | what a clip folder holds |
| ``lfo-record-videos`` | ``record_videos`` | demonstration clips by a scripted expert |
| ``lfo-measure-expert`` | ``measure_expert`` | a scripted expert's or random play's return |
| ``lfo-audit-labels`` | ``audit_labels`` | a run's IDM labels against the recorded actions |
| ``lfo-pretrain-state-encoder`` | ``pretrain_state_encoder`` | train a state estimator |
| ``lfo-probe-state-encoder`` | ``probe_state_encoder`` | a state estimator's reading of clips |
| ``lfo-pretrain-encoder`` | ``pretrain_encoder`` | train a self-supervised encoder |
| ``lfo-probe-encoder`` | ``probe_encoder`` | linear probes of an encoder's features |
"""
