"""``python -m peek.workers``: the Celery worker child of ``peek worker``.

See :mod:`peek.workers.process`.
"""

import sys

from peek.workers.process import child_main

sys.exit(child_main())
