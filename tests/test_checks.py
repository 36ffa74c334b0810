"""Code-check verdicts from the kernel's facts: every way a Q8 attempt falls short."""

from pathlib import Path

from grader.assignment import load_assignment
from grader.facts import Facts, Verification, VerifiedModel
from grader.models import Evidence, Execution
from grader.score.checks import DOUBTS, run_checks

ROOT = Path(__file__).resolve().parents[1]
CHECKS = list(load_assignment(ROOT / "assignments" / "regularization").rubric.checks)


def layers(*spec):
    out = []
    for item in spec:
        if isinstance(item, float):
            out.append({"cls": "Dropout", "rate": item})
        elif isinstance(item, int):
            out.append({"cls": "Dense", "units": item})
        else:
            out.append({"cls": item})
    return out


DROPOUT = {
    "id": 1,
    "framework": "keras",
    "cls": "Sequential",
    "variable": "model_with_dropout",
    "layers": layers("Flatten", 128, 0.5, 64, 0.5, 10),
}
PLAIN = {
    "id": 2,
    "framework": "keras",
    "cls": "Sequential",
    "variable": "model_without_dropout",
    "layers": layers("Flatten", 128, 64, 10),
}


def fit(model, cell, epochs=1):
    return {"model": model, "cell": cell, "epochs_requested": epochs, "epochs_run": epochs, "samples": 400}


def evaluation(model, cell, overlap=0.0, accuracy=0.91):
    return {
        "model": model,
        "cell": cell,
        "samples": 100,
        "overlap_with_training": overlap,
        "metrics": {"loss": 0.3, "accuracy": accuracy},
    }


def verdicts(models, fits, evaluations, outputs=()):
    facts = Facts.model_validate({"models": models, "fits": fits, "evaluations": evaluations})
    grades = run_checks(CHECKS, facts, Evidence(answers={}, outputs=tuple(outputs)))
    return {g.id: g for g in grades}


def test_the_full_pattern_passes_every_check_with_evidence():
    result = verdicts(
        [DROPOUT, PLAIN],
        [fit(1, 3), fit(2, 5)],
        [evaluation(1, 6, accuracy=0.9123), evaluation(2, 6, accuracy=0.8877)],
        outputs=[(7, "with dropout 0.9123\nwithout 0.8877")],
    )
    assert all(g.passed for g in result.values())
    assert "Dense(128) Dropout(0.5) Dense(64)" in result["dropout_model"].evidence[0]
    assert any("like-for-like" in line for line in result["baseline_model"].evidence)


def test_two_models_named_alike_in_a_builder_are_told_apart_in_the_comparison():
    """Both models are ``model`` inside ``create_and_train_model``: the like-for-like line says which is which."""
    result = verdicts([{**DROPOUT, "variable": "model"}, {**PLAIN, "variable": "model"}], [fit(1, 3), fit(2, 3)], [])
    assert (
        "like-for-like: model (model 2) has the same layers as model (model 1)" in result["baseline_model"].evidence[-1]
    )


def test_no_baseline():
    result = verdicts([DROPOUT], [fit(1, 3)], [evaluation(1, 4)])
    assert result["dropout_model"].passed and not result["baseline_model"].passed
    assert not result["evaluated_on_held_out_data"].passed


def test_baseline_trained_twice_and_the_dropout_model_never():
    result = verdicts([DROPOUT, PLAIN], [fit(2, 3), fit(2, 4)], [evaluation(2, 5)])
    assert not result["dropout_model"].passed
    assert "never trained" in result["dropout_model"].evidence[0]
    assert result["baseline_model"].passed


def test_an_l2_model_instead_of_a_plain_baseline_is_flagged():
    l2 = {
        **PLAIN,
        "layers": [
            {"cls": "Dense", "units": 128, "regularized": True},
            {"cls": "Dense", "units": 10, "regularized": True},
        ],
    }
    result = verdicts([DROPOUT, l2], [fit(1, 3), fit(2, 4)], [])
    assert "not a like-for-like comparison: it adds weight regularization" in result["baseline_model"].evidence[-1]


def test_evaluation_on_training_data_is_not_held_out():
    result = verdicts(
        [DROPOUT, PLAIN], [fit(1, 3), fit(2, 4)], [evaluation(1, 5, overlap=1.0), evaluation(2, 5, overlap=1.0)]
    )
    check = result["evaluated_on_held_out_data"]
    assert not check.passed and "trained on" in check.evidence[0]


def test_a_dropout_rate_of_zero_does_not_count():
    zero = {**DROPOUT, "layers": layers("Flatten", 128, 0.0, 10)}
    result = verdicts([zero], [fit(1, 3)], [])
    assert not result["dropout_model"].passed
    assert "has no effect" in result["dropout_model"].evidence[-1]


def test_results_must_appear_in_outputs():
    result = verdicts(
        [DROPOUT, PLAIN],
        [fit(1, 3), fit(2, 4)],
        [evaluation(1, 5, accuracy=0.9123), evaluation(2, 5, accuracy=0.8877)],
        outputs=[(6, "0.9123")],
    )
    assert not result["comparison_reported"].passed
    assert "baseline_model: no result" in result["comparison_reported"].evidence[-1]


def _notebook(*sources, outputs=None):
    import nbformat.v4 as nbf

    cells = []
    for index, source in enumerate(sources):
        cell = nbf.new_code_cell(source, execution_count=index + 1)
        if outputs and index in outputs:
            cell.outputs = [nbf.new_output("stream", name="stdout", text=outputs[index])]
        cells.append(cell)
    return nbf.new_notebook(cells=cells)


STATIC_CODE = (
    "def build(with_dropout):\n    layers = [keras.layers.Dense(64)]\n    if with_dropout:\n        layers.append(keras.layers.Dropout(0.3))\n"
    "    return keras.Sequential(layers + [keras.layers.Dense(10)])",
    "model_d = keras.Sequential([keras.layers.Dense(64), keras.layers.Dropout(0.3), keras.layers.Dense(10)])\nmodel_d.fit(x, y, epochs=3)",
    "model_b = keras.Sequential([keras.layers.Dense(64), keras.layers.Dense(10)])\nmodel_b.fit(x, y, epochs=3)",
    "print(model_d.evaluate(x_test, y_test), model_b.evaluate(x_test, y_test))",
)


def static_verdicts(notebook, execution):
    from grader.assignment import load_assignment
    from grader.extract.evidence import gather_evidence

    rubric = load_assignment(ROOT / "assignments" / "regularization").rubric
    evidence = gather_evidence(notebook, rubric)
    return {g.id: g for g in run_checks(CHECKS, execution.facts, evidence, execution)}


def test_code_that_failed_before_fit_earns_the_static_share_and_says_so():
    from grader.models import CellError, Execution

    notebook = _notebook(*STATIC_CODE)
    execution = Execution(
        notebook,
        Facts(),
        "ok",
        cell_errors=(
            CellError(1, "NameError", "name 'x' is not defined"),
            CellError(2, "NameError", "x"),
            CellError(3, "NameError", "x"),
        ),
    )
    result = static_verdicts(notebook, execution)
    dropout = result["dropout_model"]
    assert not dropout.passed and dropout.source == "static" and dropout.score == 3.0
    assert "implemented but not shown to run" in dropout.evidence[0] and "failed" in dropout.evidence[0]
    assert result["baseline_model"].score == 2.5


def test_code_that_ran_cleanly_gets_no_static_credit():
    from grader.models import Execution

    notebook = _notebook(*STATIC_CODE)
    result = static_verdicts(notebook, Execution(notebook, Facts(), "ok"))
    assert result["dropout_model"].score == 0 and result["dropout_model"].source == "runtime"


def test_no_run_trusts_saved_outputs_but_labels_them_unverified():
    from grader.models import Execution

    notebook = _notebook(
        *STATIC_CODE, outputs={1: "Epoch 1/3\nEpoch 2/3", 2: "Epoch 1/3", 3: "[0.31, 0.9123] [0.35, 0.8811]"}
    )
    result = static_verdicts(notebook, Execution(notebook, Facts(), "not_run", mode="no-run"))
    assert result["dropout_model"].passed and "unverified" in result["dropout_model"].evidence[0]
    assert result["comparison_reported"].passed
    held_out = result["evaluated_on_held_out_data"]  # evaluate(x_test) with its results printed below it
    assert (
        held_out.passed
        and held_out.score == 5
        and "the saved outputs show results on held-out data" in held_out.evidence[0]
    )
    assert "unverified" in held_out.evidence[0]
    notebook = _notebook(*STATIC_CODE, outputs={1: "Epoch 1/3\nEpoch 2/3", 2: "Epoch 1/3"})  # evaluated, nothing shown
    held_out = static_verdicts(notebook, Execution(notebook, Facts(), "not_run", mode="no-run"))[
        "evaluated_on_held_out_data"
    ]
    assert not held_out.passed and held_out.score == 2.5 and "implemented but not shown to run" in held_out.evidence[0]


def _builder_notebook(dropout_branch: str, calls: str, trains_inside: bool, log: str = ""):
    """A builder choosing its dropout layer with a conditional expression (a pattern real notebooks use)."""
    fit = "    model.fit(x_train, y_train, epochs=5, validation_data=(x_test, y_test))\n" if trains_inside else ""
    code = (
        "def build(use_dropout=False):\n    model = keras.Sequential([\n        keras.layers.Dense(128),\n"
        f"        {dropout_branch},\n        keras.layers.Dense(10)\n    ])\n{fit}    return model\n" + calls
    )
    return _notebook(code, outputs={0: log} if log else None)


def test_a_conditional_expression_in_a_builder_builds_one_branch_and_its_fit_trains_what_it_returns():
    """``Dropout(0.5) if use_dropout else Dropout(0.0)`` in a builder that trains the model itself:
    ``build(use_dropout=False)`` is the baseline (rate 0 is no dropout), and both assigned models
    were trained by the builder's own fit (--no-run, the saved log shows it)."""
    from grader.models import Execution

    log = "Epoch 1/5\n1875/1875 [======] - 8s 4ms/step - loss: 0.2577 - accuracy: 0.9270 - val_accuracy: 0.9595\n"
    notebook = _builder_notebook(
        "keras.layers.Dropout(0.5) if use_dropout else keras.layers.Dropout(0.0)",
        "plain = build(use_dropout=False)\ndropped = build(use_dropout=True)\n",
        trains_inside=True,
        log=log,
    )
    result = static_verdicts(notebook, Execution(notebook, Facts(), "not_run", mode="no-run"))
    assert result["dropout_model"].passed and result["dropout_model"].evidence[0].startswith(
        "dropped: Dense Dropout Dense"
    )
    assert result["baseline_model"].passed and result["baseline_model"].evidence[0].startswith("plain:")


def test_a_dropout_branch_never_chosen_is_no_dropout_model():
    """``Dropout(0.2) if use_dropout else None`` with the builder only ever called with False: no model
    with Dropout was even built, so reading the code credits no dropout model."""
    from grader.models import CellError, Execution

    notebook = _builder_notebook(
        "keras.layers.Dropout(0.2) if use_dropout else None",
        "plain = build(use_dropout=False)\nplain.fit(x_train, y_train, epochs=10)\n",
        trains_inside=False,
    )
    error = CellError(0, "TypeError", "The added layer must be an instance of class Layer. Received: layer=None")
    result = static_verdicts(notebook, Execution(notebook, Facts(), "ok", cell_errors=(error,)))
    assert result["dropout_model"].score == 0 and result["dropout_model"].source == "runtime"
    assert "plain = Dense Dense" in result["baseline_model"].evidence[0]


def test_no_run_says_a_fit_failed_when_the_saved_notebook_shows_its_error():
    """The student's own run raised in the fit's cell (its saved output is a traceback): the code was
    run and failed, not left unrun; the credit is the same static share."""
    import nbformat.v4 as nbf

    from grader.models import Execution

    notebook = _notebook(*STATIC_CODE)
    notebook.cells[1].outputs = [
        nbf.new_output("error", ename="NameError", evalue="name 'x' is not defined", traceback=[])
    ]
    result = static_verdicts(notebook, Execution(notebook, Facts(), "not_run", mode="no-run"))
    dropout, baseline = result["dropout_model"], result["baseline_model"]
    assert dropout.score == 3.0 and "in cell 1 failed in the submitted notebook" in dropout.evidence[0]
    assert baseline.score == 2.5 and "in cell 2 did not run" in baseline.evidence[0]


def _validated_on(data, log="63/63 - 1s - accuracy: 0.84 - loss: 0.54 - val_accuracy: 0.8760 - val_loss: 0.41"):
    fitted = "model_{0}.fit(x, y, epochs=3, validation_data=" + data + ")"
    code = (
        STATIC_CODE[0],
        STATIC_CODE[1].split("\n")[0] + "\n" + fitted.format("d"),
        STATIC_CODE[2].split("\n")[0] + "\n" + fitted.format("b"),
    )
    return _notebook(*code, outputs={1: log, 2: log})


def test_no_run_credits_held_out_data_given_to_fit_as_validation_data_as_an_evaluation():
    """Keras evaluates on validation_data every epoch, which a run counts: the code read alone
    credits it the same as an evaluate() on the test set, and only when it is held-out data."""
    from grader.models import Execution

    notebook = _validated_on("(x_test, y_test)")
    held_out = static_verdicts(notebook, Execution(notebook, Facts(), "not_run", mode="no-run"))[
        "evaluated_on_held_out_data"
    ]
    assert held_out.source == "static" and held_out.score == 5  # its saved log shows val_accuracy every epoch
    assert "fit() validated on x_test" in held_out.evidence[0] and "unverified" in held_out.evidence[0]
    notebook = _validated_on("(x_test, y_test)", log="63/63 - 1s - accuracy: 0.84 - loss: 0.54")  # no val_ metrics
    held_out = static_verdicts(notebook, Execution(notebook, Facts(), "not_run", mode="no-run"))[
        "evaluated_on_held_out_data"
    ]
    assert held_out.score == 2.5 and "fit() validated on x_test" in held_out.evidence[0]
    for data in ("(x, y)", "None"):  # the training arrays; no validation at all
        notebook = _validated_on(data)
        result = static_verdicts(notebook, Execution(notebook, Facts(), "not_run", mode="no-run"))
        assert result["evaluated_on_held_out_data"].score == 0, data


def test_no_run_credits_training_curves_plotted_after_both_fits_as_the_comparison():
    """A notebook that compares the two models by their validation curves, never evaluate(): its saved figure
    is the comparison a reader sees; without the figure, or without trained models, there is none."""
    import nbformat.v4 as nbf

    from grader.models import Execution

    code = (
        STATIC_CODE[0],
        STATIC_CODE[1].replace("model_d.fit", "history_d = model_d.fit"),
        STATIC_CODE[2].replace("model_b.fit", "history_b = model_b.fit"),
        "plt.plot(history_d.history['val_accuracy'])\nplt.plot(history_b.history['val_accuracy'])",
    )
    logs = {1: "Epoch 1/3\nEpoch 2/3", 2: "Epoch 1/3"}
    plotted = _notebook(*code, outputs=logs)
    plotted.cells[3].outputs = [nbf.new_output("display_data", data={"image/png": "iVBORw0KGgo="})]
    reported = static_verdicts(plotted, Execution(plotted, Facts(), "not_run", mode="no-run"))["comparison_reported"]
    assert reported.passed and "training history is plotted (cell 3)" in reported.evidence[0]
    assert "unverified" in reported.evidence[0]
    unplotted = _notebook(*code, outputs=logs)
    reported = static_verdicts(unplotted, Execution(unplotted, Facts(), "not_run", mode="no-run"))[
        "comparison_reported"
    ]
    assert not reported.passed
    no_models = _notebook(STATIC_CODE[0], "x = 1", "y = 2", code[3])
    no_models.cells[3].outputs = plotted.cells[3].outputs
    reported = static_verdicts(no_models, Execution(no_models, Facts(), "not_run", mode="no-run"))[
        "comparison_reported"
    ]
    assert not reported.passed


def test_a_long_training_log_saved_in_a_notebook_not_run_is_not_a_number_dump():
    """Under --no-run no probe says which cells hold the framework's logs: the cells whose code trains or
    evaluates do (a real notebook trained 30 epochs with per-batch logs and lost every code point as "tampering")."""
    from grader.extract.static import static_facts
    from grader.score.checks import number_flood

    log = "\n".join(
        f"20/20 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - accuracy: 0.{n:04d} - loss: 0.{9999 - n:04d}"
        for n in range(0, 9000, 15)
    )
    notebook = _notebook(*STATIC_CODE, outputs={1: log})
    static = static_facts(notebook)
    assert number_flood(Facts(), ((1, log),)) is not None  # without the code, it looks like a dump
    assert number_flood(Facts(), ((1, log),), static) is None
    dump = "\n".join(f"{n / 10000:.4f}" for n in range(10000))
    assert "0.0000 to 0.9999" in number_flood(
        Facts(), ((1, log), (4, dump)), static
    )  # a dump in a cell that trains nothing


def test_the_datasets_own_test_split_is_held_out_even_when_the_file_repeats_it_in_training():
    leaky = {**evaluation(1, 5, overlap=0.5), "dataset_split": "test"}
    result = verdicts(
        [DROPOUT, PLAIN], [fit(1, 3), fit(2, 4)], [leaky, {**evaluation(2, 5, overlap=0.5), "dataset_split": "test"}]
    )
    assert result["evaluated_on_held_out_data"].passed
    trained_on_test = {**fit(1, 3), "dataset_split": "test"}
    result = verdicts(
        [DROPOUT, PLAIN],
        [trained_on_test, fit(2, 4)],
        [leaky, {**evaluation(2, 5, overlap=0.5), "dataset_split": "test"}],
    )
    assert not result["evaluated_on_held_out_data"].passed


def test_an_instructors_python_check_runs_over_the_facts(tmp_path):
    import yaml

    from grader.rubric import load_rubric

    (tmp_path / "checks.py").write_text(
        "def long_enough(facts, evidence):\n"
        "    need = evidence['params']['min_epochs']\n"
        "    ok = any(f['epochs_run'] >= need for f in facts['fits'])\n"
        "    return ok, [f'needs {need} epochs']\n"
        "def broken(facts, evidence):\n    raise KeyError('x')\n"
    )
    rubric = {
        "title": "T",
        "questions": [{"id": "q1", "prompt": "p", "points": 1, "concepts": [{"id": "a", "points": 1, "any": ["x"]}]}],
        "checks": [
            {
                "id": "long",
                "points": 2,
                "kind": "python",
                "params": {"function": "checks.py:long_enough", "min_epochs": 3},
            },
            {"id": "bad", "points": 1, "kind": "python", "params": {"function": "checks.py:broken"}},
        ],
    }
    (tmp_path / "rubric.yaml").write_text(yaml.safe_dump(rubric))
    checks = list(load_rubric(tmp_path / "rubric.yaml").checks)
    facts = Facts.model_validate({"models": [DROPOUT], "fits": [fit(1, 3, epochs=3)]})
    long_check, bad = run_checks(checks, facts, Evidence(answers={}))
    assert long_check.passed and long_check.evidence == ("needs 3 epochs",)
    assert not bad.passed and "raised KeyError" in bad.evidence[0]


def test_a_metric_printed_among_every_possible_number_is_not_a_reported_result():
    every = "\n".join(f"{n / 10000:.4f}" for n in range(10000))
    models, fits = [DROPOUT, PLAIN], [fit(1, 3), fit(2, 4)]
    evaluations = [evaluation(1, 5, accuracy=0.9123), evaluation(2, 5, accuracy=0.8877)]
    assert not verdicts(models, fits, evaluations, outputs=[(6, every)])["comparison_reported"].passed
    spread = [(6 + n, f"Epoch {n}: {n / 100:.2f}") for n in range(100)]  # two decimals, one a cell, dressed as a log
    assert not verdicts(models, fits, evaluations, outputs=spread)["comparison_reported"].passed
    honest = [(3, "\n".join(f"Epoch {n}/100 - loss: 0.{n:04d} - accuracy: 0.{9000 + n}" for n in range(100))),
              (6, "Test accuracy with dropout: 0.912\nwithout: 0.888")]  # fmt: skip
    assert verdicts(models, fits, evaluations, outputs=honest)["comparison_reported"].passed


def test_a_metric_printed_as_a_percentage_with_its_own_decimals_is_a_reported_result():
    models, fits = [DROPOUT, PLAIN], [fit(1, 3), fit(2, 4)]
    evaluations = [evaluation(1, 5, accuracy=0.359375), evaluation(2, 5, accuracy=0.8877)]
    shown = [(6, "DropoutNet Acc : 35.9375\nNonDropoutNet Acc : 88.8")]  # 100 * correct / total, printed raw
    assert verdicts(models, fits, evaluations, outputs=shown)["comparison_reported"].passed
    off = [(6, "DropoutNet Acc : 36.0\nNonDropoutNet Acc : 88.8")]  # 36.0 is not 35.9375 to one decimal
    assert not verdicts(models, fits, evaluations, outputs=off)["comparison_reported"].passed


def test_a_python_check_sees_plots_cells_and_mode_gives_partial_credit_and_chooses_models(tmp_path):
    import yaml

    from grader.models import CellError, Execution
    from grader.rubric import load_rubric

    (tmp_path / "checks.py").write_text(
        "def bn_model(facts, evidence):\n"
        "    chosen = [m['id'] for m in facts['models'] if any(l['cls'] == 'Dropout' for l in m['layers'])]\n"
        "    seen = f\"plots {evidence['plots']} verified {evidence['verified_cells']} failed {evidence['failed_cells']} {evidence['mode']}\"\n"
        "    return {'passed': True, 'credit': 0.5, 'evidence': [seen], 'models': chosen}\n"
        "def fraction(facts, evidence):\n    return 0.25\n"
        "def sees_choice(facts, evidence):\n    return evidence['chosen'] == {'picked': [1]}, [str(evidence['chosen'])]\n"
        "def bad_credit(facts, evidence):\n    return {'passed': True, 'credit': 3}\n"
    )
    rubric = {
        "title": "T",
        "questions": [{"id": "q1", "prompt": "p", "points": 1, "concepts": [{"id": "a", "points": 1, "any": ["x"]}]}],
        "checks": [
            {"id": "picked", "points": 4, "kind": "python", "params": {"function": "checks.py:bn_model"}},
            {"id": "quarter", "points": 4, "kind": "python", "params": {"function": "checks.py:fraction"}},
            {"id": "later", "points": 1, "kind": "python", "params": {"function": "checks.py:sees_choice"}},
            {"id": "held_out", "points": 2, "kind": "evaluated_on_held_out_data", "params": {"models": ["picked"]}},
            {"id": "bad", "points": 1, "kind": "python", "params": {"function": "checks.py:bad_credit"}},
        ],
    }
    (tmp_path / "rubric.yaml").write_text(yaml.safe_dump(rubric))
    checks = list(load_rubric(tmp_path / "rubric.yaml").checks)
    facts = Facts.model_validate(
        {"models": [DROPOUT, PLAIN], "fits": [fit(1, 3), fit(2, 4)], "evaluations": [evaluation(1, 5)]}
    )
    cells = [{"cell_type": "code", "execution_count": n, "source": "", "outputs": []} for n in (1, 2, 3)]
    execution = Execution(
        notebook={"cells": cells}, facts=facts, cell_errors=(CellError(2, "ValueError", "x"),), status="ok", mode="full"
    )
    evidence = Evidence(answers={}, images=(1,))
    picked, quarter, later, held_out, bad = run_checks(checks, facts, evidence, execution)
    assert picked.passed and picked.score == 2.0 and picked.evidence == ("plots [1] verified [0, 1] failed [2] run",)
    assert quarter.passed and quarter.score == 1.0
    assert later.passed
    assert held_out.passed  # the evaluated model is the one the python check chose
    assert not bad.passed and "credit must be between 0 and 1" in bad.evidence[0]


def verified_facts(**verified):
    """The full pattern's facts with what the clean verifier found for each model id."""
    facts = Facts.model_validate({"models": [DROPOUT, PLAIN], "fits": [fit(1, 3), fit(2, 5)],
                                  "evaluations": [evaluation(1, 6, accuracy=0.9123), evaluation(2, 6, accuracy=0.8877)]})  # fmt: skip
    return facts.model_copy(
        update={"verification": Verification(models=[VerifiedModel(model=i, **v) for i, v in verified.items()])}
    )


DENSE, DROP = "keras.src.layers.core.dense.Dense", "keras.src.layers.regularization.dropout.Dropout"


def test_the_accuracy_compared_with_the_verifier_is_the_last_runs():
    """One network trained in one cell with SGD, evaluated, then trained on with Adam: the SGD run's accuracy
    says nothing of the weights the verifier loads; an evaluation of the Adam run does."""
    from grader.score.checks.outside import final_accuracy

    def facts_with(*evaluations):
        return Facts.model_validate(
            {
                "models": [{"id": 1, "framework": "torch", "cls": "Net", "layers": [{"cls": "Linear", "units": 10}]}],
                "fits": [{"model": 1, "cell": 3, "epochs_run": 1}, {"model": 1, "cell": 3, "epochs_run": 1}],
                "evaluations": [
                    {"model": 1, "cell": 3, "overlap_with_training": 0.0, "after_fit": run, "samples": 500,
                     "metrics": {"accuracy": accuracy}}
                    for run, accuracy in evaluations
                ],
            }
        )  # fmt: skip

    model = facts_with().models[0]
    assert final_accuracy(facts_with((0, 0.91)), model) is None
    assert final_accuracy(facts_with((0, 0.91), (1, 0.84)), model) == (0.84, 500)


def test_a_model_the_verifier_confirms_passes_with_the_verified_numbers():
    facts = verified_facts(**{"1": dict(loaded=True, layers=[{"path": DENSE}, {"path": DROP, "rate": 0.5}], accuracy=0.91, samples=2000, chance=0.11),
                              "2": dict(loaded=True, layers=[{"path": DENSE}], accuracy=0.89, samples=2000, chance=0.11)})  # fmt: skip
    grades = {g.id: g for g in run_checks(CHECKS, facts, Evidence(answers={}, outputs=((7, "0.9123 0.8877"),)))}
    assert all(g.passed for g in grades.values())
    assert (
        "model_with_dropout: verified outside the kernel: held-out accuracy 0.9100 on 2,000 samples"
        in grades["dropout_model"].evidence
    )


def test_the_verifier_contradicting_the_facts_costs_the_model():
    untrained = dict(
        loaded=True, layers=[{"path": DENSE}, {"path": DROP, "rate": 0.5}], accuracy=0.10, samples=2000, chance=0.11
    )
    no_dropout = dict(loaded=True, layers=[{"path": DENSE}], accuracy=0.91, samples=2000, chance=0.11)
    for found in (untrained, no_dropout):
        grades = {g.id: g for g in run_checks(CHECKS, verified_facts(**{"1": found}), Evidence(answers={}))}
        assert not grades["dropout_model"].passed
        assert "contradicted outside the kernel" in grades["dropout_model"].evidence[0]


def test_near_chance_after_the_fast_budget_cut_training_is_unverified_in_a_self_check():
    """A self-check's fast run is not run again in full (grading does that): one epoch of a hundred
    leaves a slow learner near chance, so there the model keeps its facts, flagged, with why; the
    same facts from a full run are a contradiction."""
    slow = dict(
        loaded=True, layers=[{"path": DENSE}, {"path": DROP, "rate": 0.5}], accuracy=0.12, samples=2000, chance=0.11
    )
    fits = [{**fit(1, 3), "epochs_requested": 100, "budgeted": True}, fit(2, 5)]
    facts = verified_facts(**{"1": slow}).model_copy(update={"fits": Facts.model_validate({"fits": fits}).fits})

    def dropout_check(mode):
        execution = Execution(notebook={"cells": []}, facts=facts, status="ok", mode=mode)
        return {g.id: g for g in run_checks(CHECKS, facts, Evidence(answers={}), execution)}["dropout_model"]

    fast = dropout_check("fast")
    assert fast.passed, fast.evidence
    line = next(line for line in fast.evidence if "near chance" in line)
    assert (
        "not independently verified" in line
        and "1 of 100 epochs" in line
        and "a run with the full budget settles it" in line
    )
    full = dropout_check("full")
    assert not full.passed and "contradicted outside the kernel" in " ".join(full.evidence)


def test_the_verifier_is_held_to_the_accuracy_of_the_weights_it_loaded():
    """Scored untrained, then trained, then scored again: the last score is the saved model's; an
    accuracy recorded only before a later fit is not compared at all."""
    confirmed = dict(loaded=True, layers=[{"path": DENSE}, {"path": DROP, "rate": 0.5}], accuracy=0.91, samples=2000, chance=0.11)  # fmt: skip
    scored_before_and_after = [evaluation(1, 2, accuracy=0.10), evaluation(1, 4, accuracy=0.90), evaluation(2, 6)]
    scored_only_before = [evaluation(1, 2, accuracy=0.10), evaluation(2, 6)]
    for evaluations in (scored_before_and_after, scored_only_before):
        facts = verified_facts(**{"1": confirmed}).model_copy(
            update={"evaluations": Facts.model_validate({"evaluations": evaluations}).evaluations}
        )
        grades = {g.id: g for g in run_checks(CHECKS, facts, Evidence(answers={}))}
        assert grades["dropout_model"].passed, grades["dropout_model"].evidence
        assert "verified outside the kernel: held-out accuracy 0.9100" in grades["dropout_model"].evidence[-1]


def test_validation_data_no_model_trained_on_is_an_evaluation_on_held_out_data():
    """fit(..., validation_data=(x_test, y_test)): Keras evaluates on it every epoch; validation_split
    (rows of the training arrays) needs validation_counts."""

    def verdict(validation, overlap):
        fits = [{**fit(model, 3), "validation": validation, "validation_overlap_with_training": overlap,
                 "validation_data": {"id": "t", "shape": [500, 28, 28]},
                 "history": {"accuracy": [0.9], "val_accuracy": [0.8812]}} for model in (1, 2)]  # fmt: skip
        facts = Facts.model_validate({"models": [DROPOUT, PLAIN], "fits": fits})
        return {g.id: g for g in run_checks(CHECKS, facts, Evidence(answers={}))}["evaluated_on_held_out_data"]

    held_out = verdict("data", 0.0)
    assert held_out.passed, held_out.evidence
    assert "fit(), 500 samples it was not trained on (val_accuracy 0.8812" in held_out.evidence[0]
    assert not verdict("data", 1.0).passed and not verdict("split", None).passed


def test_a_history_plot_in_the_cell_that_trained_through_a_function_reports_the_results():
    """``history = train(config)`` with the fit in the function's cell, then the histories plotted."""
    facts = Facts.model_validate({"models": [DROPOUT, PLAIN], "fits": [fit(1, 2), fit(2, 2)]})

    def reported(loop):
        code = ((1, "def train(rate):\n    return model.fit(x, y, validation_data=(xv, yv))"), (2, loop))
        evidence = Evidence(answers={}, images=(2,), code_cells=code)
        return {g.id: g for g in run_checks(CHECKS, facts, evidence)}["comparison_reported"]

    loop = "for rate in (0.0, 0.5):\n    history = train(rate)\n    plt.plot(history.history['val_accuracy'])"
    through_function = reported(loop)
    assert through_function.passed and "its training history is plotted" in through_function.evidence[0]
    assert not reported("plt.plot(history.history['val_accuracy'])\nhistory = model.fit(x, y)").passed


def test_a_model_the_verifier_cannot_load_rests_on_the_facts_and_says_so():
    facts = verified_facts(**{"1": dict(loaded=False, reason="TypeError: Could not locate class 'Net'")})
    grades = {g.id: g for g in run_checks(CHECKS, facts, Evidence(answers={}))}
    assert grades["dropout_model"].passed
    assert (
        "model_with_dropout: not independently verified: TypeError: Could not locate class 'Net'"
        in grades["dropout_model"].evidence
    )


def test_a_model_not_measured_for_want_of_its_datasets_split_keeps_its_facts_and_says_why():
    """A Fashion-MNIST model in a notebook that also loaded MNIST: layers checked, no accuracy verdict
    (not a contradiction), and the line says why, as a doubt the grade is flagged with (a forged
    origin can cost the measurement, and a person then looks)."""
    why = "trained on Fashion-MNIST: no held-out split to measure it on (the grader holds MNIST's only)"
    layers = [{"path": DENSE}, {"path": DROP, "rate": 0.5}]
    facts = verified_facts(**{"1": dict(loaded=True, layers=layers, reason=why)})
    dropout = {g.id: g for g in run_checks(CHECKS, facts, Evidence(answers={}))}["dropout_model"]
    assert dropout.passed, dropout.evidence
    line = f"model_with_dropout: not independently verified: {why}"
    assert line in dropout.evidence and any(doubt in line for doubt in DOUBTS)


def test_a_home_made_dropout_and_a_fit_that_learned_nothing_do_not_count():
    fake = {
        **DROPOUT,
        "layers": [{"cls": "Dense", "units": 128}, {"cls": "Dropout", "rate": 0.5, "module": "__main__"}],
    }
    facts = Facts.model_validate(
        {"models": [fake, PLAIN], "fits": [fit(1, 3), {**fit(2, 5), "weights_changed": False}]}
    )
    grades = {g.id: g for g in run_checks(CHECKS, facts, Evidence(answers={}))}
    assert not grades["dropout_model"].passed and not grades["baseline_model"].passed
    assert any("__main__.Dropout is the notebook's own class" in line for line in grades["dropout_model"].evidence)
    assert any("its weights did not change" in line for line in grades["baseline_model"].evidence)


def test_a_pytorch_fit_whose_weights_did_not_change_does_not_count_and_says_what_ran():
    plain = {**PLAIN, "framework": "torch", "cls": "Net"}
    facts = Facts.model_validate({"models": [plain], "fits": [{**fit(2, 5), "weights_changed": False}]})
    grades = {g.id: g for g in run_checks(CHECKS, facts, Evidence(answers={}))}
    assert not grades["baseline_model"].passed
    assert (
        "model_without_dropout: Flatten Dense(128) Dense(64) Dense(10): its optimizer steps ran but its weights did"
        " not change, so nothing was learned" in grades["baseline_model"].evidence
    )


def test_validation_rows_kept_back_from_the_training_images_are_not_a_test_set():
    """X_valid = X_train_full[:7000] given as validation_data (a real notebook): not trained on, yet
    not the test set the rubric asks for (``validation_counts: false``)."""
    fits = [{**fit(model, 3), "validation": "data", "validation_overlap_with_training": 0.0,
             "validation_dataset_split": "train", "validation_data": {"id": "v", "shape": [7000, 28, 28]},
             "history": {"accuracy": [0.9], "val_accuracy": [0.88]}} for model in (1, 2)]  # fmt: skip
    facts = Facts.model_validate({"models": [DROPOUT, PLAIN], "fits": fits})
    held_out = {g.id: g for g in run_checks(CHECKS, facts, Evidence(answers={}))}["evaluated_on_held_out_data"]
    assert not held_out.passed
    assert "kept back from the training images" in held_out.evidence[0]


def test_a_budgeted_loop_dividing_by_the_whole_dataset_reports_its_result():
    """``correct / len(test_loader.dataset)`` under the fast budget: 1,280 of 10,000 rows were evaluated,
    so the notebook prints the probe's accuracy times 1280/10000; that is the model's result."""
    models, fits = [DROPOUT, PLAIN], [fit(1, 3), fit(2, 4)]
    evaluations = [
        {**evaluation(1, 5, accuracy=0.93125), "samples": 1280, "budgeted": True, "dataset_samples": 10000},
        {**evaluation(2, 5, accuracy=0.75), "samples": 1280, "budgeted": True, "dataset_samples": 10000},
    ]
    shown = [(5, "Epoch [1/10], Validation Accuracy: 0.1192\nEpoch [1/10], Validation Accuracy: 0.0960")]
    reported = verdicts(models, fits, evaluations, outputs=shown)["comparison_reported"]
    assert reported.passed and "of which the fast budget evaluated 1,280" in reported.evidence[0]
    unbudgeted = [{**e, "budgeted": False} for e in evaluations]
    assert not verdicts(models, fits, unbudgeted, outputs=shown)["comparison_reported"].passed
