"""``python -m automl_nas VERB ...``: the ``automl-nas`` command line without the script."""

import sys

from automl_nas.cli import main

if __name__ == "__main__":
    sys.exit(main())
