"""Training: phases (freeze + re-compile), checkpoints, the run directory, the Keras formats. TensorFlow is
imported first, without its start-up lines; then the Keras formats are registered with the runtime's loaders
(``formats``), so that a Predictor reads .keras and .npz files once this package is imported."""

from blazepose._tensorflow import import_tensorflow

import_tensorflow()

from blazepose.training import formats as formats  # noqa: E402  (after TensorFlow: registers the Keras formats)
