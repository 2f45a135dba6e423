"""Task sessions: ``nox -s tests``, ``lint``, ``typecheck``, ``docs``, ``bench``, ``fuzz``."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite with coverage (pytest + hypothesis)."""
    session.install("-e", ".[test]")
    # `coverage run` (not pytest-cov): the package's pytest plugin is imported when pytest
    # starts, before pytest-cov would begin measuring.
    session.run("coverage", "run", "-m", "pytest", *session.posargs)
    session.run("coverage", "report")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff: lint and formatting check."""
    session.install("ruff>=0.6")
    paths = ("src", "tests", "benchmarks", "fuzz", "examples", "noxfile.py")
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package and the typed smoke file of the public API; a
    misspelt public name must fail (tests/typing/misspelt.py)."""
    session.install("-e", ".", "mypy>=1.10", "types-requests", "pytest")
    session.run("mypy", "--strict", "src/shakenlib", "tests/typing/smoke.py")
    session.run("mypy", "--strict", "tests/typing/misspelt.py", success_codes=[1], silent=True)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the Sphinx docs (warnings are errors); their examples run in ``tests``."""
    session.install("-e", ".", "sphinx>=7", "furo", "myst-parser")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks, reported as ratios to raw ECDSA P-256 verification in the same run."""
    session.install("-e", ".[all]")  # the reader benchmarks need every reader
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """Fuzz every parser and the verifier (not a default session; see docs/fuzzing.md).

    ``nox -s fuzz`` runs each target for 10 s; pass driver options after ``--``, e.g.
    ``nox -s fuzz -- --target verify --time 600`` or ``-- --engine atheris``. Contract
    violations are saved under tests/data/fuzz/<target>/ as regression files.
    """
    session.install("-e", ".")
    if "atheris" in session.posargs:
        session.install("atheris")
    session.run("python", "fuzz/run.py", *session.posargs)
