"""Two-phase training: phases (freeze + re-compile), checkpoints, the run directory."""
