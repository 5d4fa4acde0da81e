"""`python -m keras_binary`: the `keras-binary` command line (see `keras_binary.cli`)."""

import sys

from keras_binary.cli import main

if __name__ == "__main__":
    sys.exit(main())
