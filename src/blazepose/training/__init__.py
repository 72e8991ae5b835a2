"""Two-phase training: phases (freeze + re-compile), checkpoints, the run directory. TensorFlow is imported
first, without its start-up lines."""

from blazepose._quiet import import_tensorflow

import_tensorflow()
