"""Regenerate the example data set in this folder (calls.jsonl, trust.pem, mirror/,
providers.csv): ``python examples/make_example.py [--calls N] [--seed S] [--out DIR]``.

The generator is :mod:`shakenlib.testing.traffic`; see its docstring for what is planted.
"""

from pathlib import Path

from shakenlib.testing.traffic import main

if __name__ == "__main__":
    raise SystemExit(main(default_out=Path(__file__).resolve().parent))
