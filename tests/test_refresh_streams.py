"""Stored solutions hold one output per run of a stream, as JupyterLab shows it: a
training cell's progress bar is one line, not one output per epoch."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import nbformat.v4 as v4
import pytest

from dlteach.tools.refresh import coalesce_streams

SOLUTIONS = sorted((Path(__file__).resolve().parents[1] / "solutions").glob("*.ipynb"))


def test_consecutive_writes_of_one_stream_become_one_output_with_returns_applied():
    outputs = [
        v4.new_output("stream", name="stdout", text="table\n"),
        v4.new_output("stream", name="stdout", text="\repoch:   0%| 0/3"),
        v4.new_output("stream", name="stdout", text="\repoch:  33%| 1/3"),
        v4.new_output("stream", name="stdout", text="\repoch: 100%| 3/3\n"),
        v4.new_output("stream", name="stderr", text="warn\n"),
        v4.new_output("display_data", data={"text/plain": "<Figure>"}),
        v4.new_output("stream", name="stdout", text="after ab\x08\x08cd\n"),
    ]
    merged = coalesce_streams(outputs)
    assert [o["output_type"] for o in merged] == ["stream", "stream", "display_data", "stream"]
    assert merged[0]["text"] == "table\nepoch: 100%| 3/3\n"
    assert merged[1]["text"] == "warn\n"
    assert merged[3]["text"] == "after cd\n"  # text after a figure stays after it


def test_word_characters_are_kept():  # "\b" in a regex is a word boundary, not a backspace
    merged = coalesce_streams([v4.new_output("stream", name="stdout", text="loss=0.1 ok\n")])
    assert merged[0]["text"] == "loss=0.1 ok\n"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_stored_solutions_hold_one_output_per_stream_run(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(nb["cells"]):
        outputs = cell.get("outputs", [])
        for a, b in itertools.pairwise(outputs):
            same = a["output_type"] == b["output_type"] == "stream" and a["name"] == b["name"]
            assert not same, f"cell {index + 1}: two {a['name']} outputs in a row"
        for o in outputs:
            if o["output_type"] == "stream":
                assert "\r" not in "".join(o["text"]), f"cell {index + 1}: a carriage return"
