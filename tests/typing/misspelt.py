"""Must fail ``mypy --strict``: a misspelt public name (``nox -s typecheck`` checks)."""

from shakenlib import Verifer  # noqa: F401  (the misspelling is the point)
