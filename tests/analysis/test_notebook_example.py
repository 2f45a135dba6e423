"""examples/investigate.ipynb runs from top to bottom (so it cannot rot)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_investigate_notebook_runs() -> None:
    notebook = nbformat.read(EXAMPLES / "investigate.ipynb", as_version=4)
    assert all(
        not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"
    )  # stored without outputs
    start = time.monotonic()
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    )
    client.execute()
    assert time.monotonic() - start < 60
    outputs = [cell.outputs for cell in notebook.cells if cell.cell_type == "code"]
    assert not [o for out in outputs for o in out if o.output_type == "error"]
    html = [
        o["data"]["text/html"]
        for out in outputs
        for o in out
        if o.output_type == "execute_result" and "text/html" in o.get("data", {})
    ]
    assert any("shakenlib-analysis" in h for h in html)  # Analysis._repr_html_
    assert any("shakenlib-lead" in h and "Bluefin VoIP LLC" in h for h in html)
    images = [o for out in outputs for o in out if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # the charts
    printed = "".join(
        o.get("text", "") for out in outputs for o in out if o.output_type == "stream"
    )
    assert "ask it to identify the customer behind this origid" in printed
