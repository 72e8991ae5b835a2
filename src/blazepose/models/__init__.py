"""The networks (Keras). TensorFlow is imported first, without its start-up lines."""

from blazepose._tensorflow import import_tensorflow

import_tensorflow()
