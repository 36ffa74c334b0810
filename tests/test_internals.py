"""The static scan for code that reaches for the grader's internals, and what it costs a grade."""

from pathlib import Path

import nbformat.v4 as nbf

from grader.assignment import load_assignment
from grader.extract.internals import reaching_for_internals
from grader.facts import Facts
from grader.models import Execution, Submission
from grader.pipeline import score

ROOT = Path(__file__).resolve().parents[1]

FORGING = {
    "probe_object": "import sys\nprobe = [getattr(sys, n) for n in dir(sys) if n.startswith('_grader')][0]",
    "publisher": "from IPython.display import publish_display_data",
    "display_pub": "get_ipython().display_pub.publish = lambda *a, **k: None",
    "closure": "keras.Model.fit.__closure__[0].cell_contents",
    "json": "import json\njson.dumps = lambda *a, **k: '{}'",
    "checkpoint": "open('/tmp/x/kernel/facts-checkpoint.json', 'w').write('{}')",
    "sys_dict": "import sys\nsys.__dict__",
}
HONEST = (
    "import numpy as np, keras, json, sys\nhistory = model.fit(x, y, epochs=3)\nprint(json.dumps(history.history))\n"
    "sys.path.append('.')\nimport matplotlib.pyplot as plt\nplt.plot(history.history['loss'])"
)


def test_each_way_of_reaching_for_the_grader_is_found_and_named():
    for name, source in FORGING.items():
        found = reaching_for_internals([(3, source)])
        assert found and found[0].startswith("cell 3: "), name


def test_ordinary_homework_code_is_not_flagged():
    assert reaching_for_internals([(0, HONEST), (1, "this is not python (")]) == []


def test_a_notebook_reaching_for_internals_gets_no_check_points_and_is_flagged():
    assignment = load_assignment(ROOT / "assignments" / "regularization")
    nb = nbf.new_notebook(cells=[nbf.new_code_cell(FORGING["closure"], execution_count=1)])
    execution = Execution(notebook=nb, facts=Facts(), status="ok")
    grade = score(Submission("s", "s", "s", nb), execution, assignment)
    assert all(check.score == 0 for check in grade.checks)
    assert any(
        flag.startswith("needs review: tampering: the code reaches for the grader's internals: cell 0")
        for flag in grade.flags
    )
