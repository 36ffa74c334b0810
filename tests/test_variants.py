"""compared_variants: variants of one model, differing only in what the homework varies (no kernel)."""

import pytest
from pydantic import TypeAdapter, ValidationError

from grader.check_specs import Check
from grader.environment.failures import NOT_VERIFIED, EnvironmentFailure
from grader.facts import Facts
from grader.models import Evidence, StaticCall, StaticFacts, StaticModel
from grader.score.checks import run_checks
from grader.score.checks.base import CheckContext
from grader.score.checks.variants import ComparedVariants

DENSE = [{"cls": "Dense", "units": 64}, {"cls": "Dense", "units": 10}]


def check(**params):
    return TypeAdapter(Check).validate_python(
        {"id": "compared", "points": 8, "kind": "compared_variants", "params": params}
    )


def facts(runs, extra_models=()):
    """runs: (variable, optimizer, lr, layers, test accuracy or None, fit index); one model per variable."""
    models, fits, evaluations = [], [], []
    ids = {}
    for cell, (variable, optimizer, rate, layers, accuracy) in enumerate(runs, start=1):
        if variable not in ids:
            ids[variable] = len(ids) + 1
            models.append(
                {"id": ids[variable], "framework": "keras", "cls": "Sequential", "variable": variable, "layers": layers}
            )
        fits.append(
            {
                "model": ids[variable],
                "cell": cell,
                "epochs_run": 2,
                "optimizer": {"cls": optimizer, "learning_rate": rate},
            }
        )
        if accuracy is not None:
            evaluations.append(
                {"model": ids[variable], "cell": cell, "overlap_with_training": 0.0, "metrics": {"accuracy": accuracy}}
            )
    return Facts.model_validate({"models": [*models, *extra_models], "fits": fits, "evaluations": evaluations})


def outputs(*accuracies):
    return tuple(
        (cell, f"test accuracy {value}") for cell, value in enumerate(accuracies, start=1) if value is not None
    )


def grade(spec, recorded, shown=()):
    (result,) = run_checks([spec], recorded, Evidence(answers={}, outputs=shown))
    return result


OPTIMIZERS = dict(vary="optimizer", values=["SGD", "Adam", "RMSprop"], min_distinct=2, fresh_weights=True)


def test_two_optimizers_on_one_architecture_each_tested_and_shown_pass():
    runs = [("m_sgd", "SGD", 0.01, DENSE, 0.9123), ("m_adam", "Adam", 0.001, DENSE, 0.9456)]
    result = grade(check(**OPTIMIZERS), facts(runs), outputs(0.9123, 0.9456))
    assert result.passed, result.evidence
    assert result.evidence[0].startswith("2 of 3 optimizer variants")
    assert any(line.startswith("sgd: m_sgd") and "accuracy 0.9123" in line for line in result.evidence)
    assert "not trained on this architecture: RMSprop" in result.evidence


def test_one_model_trained_on_with_another_optimizer_is_not_fresh():
    runs = [("model", "SGD", 0.01, DENSE, 0.91), ("model", "Adam", 0.001, DENSE, 0.93)]
    result = grade(check(**OPTIMIZERS), facts(runs), outputs(0.91, 0.93))
    assert not result.passed
    assert any("trained again from the weights an earlier fit of model left" in line for line in result.evidence)
    assert grade(check(**{**OPTIMIZERS, "fresh_weights": False}), facts(runs), outputs(0.91, 0.93)).passed


def one_model_in_turn(fresh, measured=(0, 1, 2), accuracies=(0.8949, 0.9743, 0.9588)):
    """One model trained in one cell by SGD, Adam and RMSprop in turn; ``fresh``: each later run's fresh_start;
    ``measured``: the runs a held-out evaluation measured (its after_fit)."""
    model = {"id": 1, "framework": "torch", "cls": "NeuralNet", "variable": "model", "layers": DENSE}
    fits = [
        {
            "model": 1,
            "cell": 6,
            "epochs_run": 10,
            "optimizer": {"cls": name, "learning_rate": 0.001},
            "fresh_start": start,
        }
        for name, start in zip(("SGD", "Adam", "RMSprop"), (None, *fresh))
    ]
    evaluations = [
        {"model": 1, "cell": 6, "kind": "eval_forward", "overlap_with_training": 0.0, "after_fit": run,
         "metrics": {"accuracy": accuracies[run]}}
        for run in measured
    ]  # fmt: skip
    return Facts.model_validate({"models": [model], "fits": fits, "evaluations": evaluations})


ONE_CELL_PRINTED = ((6, "SGD Test Accuracy: 89.49%\nAdam Test Accuracy: 97.43%\nRMSprop Test Accuracy: 95.88%"),)


def test_one_model_trained_in_turn_from_reset_weights_is_three_variants_each_with_its_own_result():
    everything = {**OPTIMIZERS, "min_distinct": 3}
    result = grade(check(**everything), one_model_in_turn(fresh=(True, True)), ONE_CELL_PRINTED)
    assert result.passed, result.evidence
    assert [line.split(",")[-1].strip() for line in result.evidence[1:]] == [
        "accuracy 0.8949",
        "accuracy 0.9743",
        "accuracy 0.9588",
    ]
    kept = grade(check(**everything), one_model_in_turn(fresh=(False, False)), ONE_CELL_PRINTED)
    assert not kept.passed
    assert sum("trained again from the weights an earlier fit of model left" in line for line in kept.evidence) == 2
    unmeasured = grade(check(**everything), one_model_in_turn(fresh=(True, True), measured=(0,)), ONE_CELL_PRINTED)
    assert sum("not evaluated on held-out data" in line for line in unmeasured.evidence) == 2  # Adam's, RMSprop's


def test_variants_of_different_architectures_are_not_compared():
    wide = [{"cls": "Dense", "units": 256}, {"cls": "Dense", "units": 10}]
    runs = [("a", "SGD", 0.01, DENSE, 0.91), ("b", "Adam", 0.001, wide, 0.93)]
    assert not grade(check(**OPTIMIZERS), facts(runs), outputs(0.91, 0.93)).passed


def test_a_variant_never_tested_or_never_shown_does_not_count():
    runs = [("a", "SGD", 0.01, DENSE, 0.91), ("b", "Adam", 0.001, DENSE, None)]
    result = grade(check(**OPTIMIZERS), facts(runs), outputs(0.91))
    assert not result.passed and any("not evaluated on held-out data" in line for line in result.evidence)
    runs = [("a", "SGD", 0.01, DENSE, 0.91), ("b", "Adam", 0.001, DENSE, 0.93)]
    result = grade(check(**OPTIMIZERS), facts(runs), outputs(0.91))
    assert not result.passed and any("its result is not shown" in line for line in result.evidence)


@pytest.mark.parametrize(
    "params, second_layers",
    [
        (dict(vary="layers", values=["Dropout", "none"]), [DENSE[0], {"cls": "Dropout", "rate": 0.5}, DENSE[1]]),
        (
            dict(vary="layers", values=["BatchNormalization", "none"]),
            [DENSE[0], {"cls": "BatchNormalization"}, DENSE[1]],
        ),
        (
            dict(vary="regularizer", values=["L2", "none"]),
            [{"cls": "Dense", "units": 64, "regularized": True, "regularizer": "L2"}, DENSE[1]],
        ),
    ],
)
def test_a_layer_or_a_regularizer_against_none(params, second_layers):
    runs = [("plain", "Adam", 0.001, DENSE, 0.91), ("varied", "Adam", 0.001, second_layers, 0.93)]
    result = grade(check(**params), facts(runs), outputs(0.91, 0.93))
    assert result.passed, result.evidence


def test_a_rate_zero_dropout_is_the_none_variant():
    zero = [DENSE[0], {"cls": "Dropout", "rate": 0.0}, DENSE[1]]
    runs = [
        ("zero", "Adam", 0.001, zero, 0.91),
        ("half", "Adam", 0.001, [DENSE[0], {"cls": "Dropout", "rate": 0.5}, DENSE[1]], 0.93),
    ]
    result = grade(check(vary="layers", values=["Dropout", "none"]), facts(runs), outputs(0.91, 0.93))
    assert result.passed and any(line.startswith("none: zero") for line in result.evidence)


def test_learning_rates_are_compared_as_numbers():
    runs = [("a", "SGD", 0.1, DENSE, 0.91), ("b", "SGD", 0.01, DENSE, 0.93)]
    assert grade(check(vary="learning_rate", values=[0.1, 0.01]), facts(runs), outputs(0.91, 0.93)).passed


def test_params_are_checked_when_the_rubric_loads():
    with pytest.raises(ValidationError, match="min_distinct is 3 but only 2 values"):
        check(vary="optimizer", values=["SGD", "Adam"], min_distinct=3)
    with pytest.raises(ValidationError):
        check(vary="activation", values=["relu", "tanh"])


def test_a_variant_measured_on_held_out_validation_data_every_epoch_counts():
    """Optimizer homeworks often compare val_accuracy curves: fit(..., validation_data=(x_test, y_test))
    is a held-out evaluation, as for evaluated_on_held_out_data; rows kept back from the training
    images, or a validation_split, are not."""
    runs = [("m_sgd", "SGD", 0.01, DENSE, None), ("m_adam", "Adam", 0.001, DENSE, None)]

    def validated(**fit):
        recorded = facts(runs)
        held_out = {"validation": "data", "validation_overlap_with_training": 0.0,
                    "validation_data": {"id": "t", "shape": [500, 28, 28]}, **fit}  # fmt: skip
        fits = [f.model_copy(update={"history": {"val_accuracy": [0.8, 0.9 + f.model / 100]}}) for f in recorded.fits]
        fits = Facts.model_validate({"fits": [{**f.model_dump(), **held_out} for f in fits]}).fits
        shown = ((3, "SGD val_accuracy 0.91"), (4, "Adam val_accuracy 0.92"))  # printed after the fits
        return grade(check(**OPTIMIZERS), recorded.model_copy(update={"fits": fits}), shown)

    result = validated()
    assert result.passed, result.evidence
    assert any(
        line.startswith("sgd: m_sgd")
        and "validation_data every epoch, 500 samples it was not trained on" in line
        and "val_accuracy 0.9100" in line
        for line in result.evidence
    ), result.evidence
    assert not validated(validation_dataset_split="train").passed
    assert not validated(validation="split").passed


def fresh_models_validated_in_one_cell(printed):
    """Three fresh models trained in one loop cell with validation_data=(x_test, y_test), verbose=0, and
    ``printed``: the cell's output after the loop (Vivek2693/Optimizers prints each history's last values)."""
    models, fits = [], []
    for run, (name, accuracy) in enumerate((("SGD", 0.9650), ("Adam", 0.9795), ("RMSprop", 0.9832)), start=1):
        models.append({"id": run, "framework": "keras", "cls": "Sequential", "variable": "model", "layers": DENSE})
        fits.append({"model": run, "cell": 2, "epochs_run": 10, "optimizer": {"cls": name, "learning_rate": 0.001},
                     "validation": "data", "validation_overlap_with_training": 0.0,
                     "validation_data": {"id": "t", "shape": [10000, 28, 28]},
                     "history": {"loss": [0.5, 0.1], "accuracy": [0.8, 1.0], "val_loss": [0.3, 0.1179 + run / 100],
                                 "val_accuracy": [0.9, accuracy]}})  # fmt: skip
    return Facts.model_validate({"models": models, "fits": fits}), ((2, printed),)


def test_history_values_printed_after_the_fits_in_their_own_cell_show_each_variant():
    """The loop's fits and the print of each history's last values share one cell: the printed values
    (past the training log) show each run's result; a train accuracy of 1.0000 is no obstacle."""
    printed = "".join(
        f"Optimizer: {name}\nTrain Accuracy: 1.0000, Validation Accuracy: {accuracy:.4f}\n"
        f"Train Loss: 0.1000, Validation Loss: {0.1179 + run / 100:.4f}\n\n"
        for run, (name, accuracy) in enumerate((("SGD", 0.9650), ("Adam", 0.9795), ("RMSprop", 0.9832)), start=1)
    )
    recorded, shown = fresh_models_validated_in_one_cell(printed)
    result = grade(check(**{**OPTIMIZERS, "min_distinct": 3}), recorded, shown)
    assert result.passed, result.evidence
    only_adam = printed.split("Optimizer: RMSprop")[0].split("Optimizer: Adam")[1]
    result = grade(check(**{**OPTIMIZERS, "min_distinct": 3}), recorded, ((2, only_adam),))
    assert not result.passed
    assert sum("its result is not shown" in line for line in result.evidence) == 2  # SGD's, RMSprop's


def test_a_training_log_alone_does_not_show_a_variant_printed_in_its_cell():
    log = "".join(
        f"Epoch 10/10\n1875/1875 [====] - 5s 3ms/step - val_accuracy: {a:.4f}\n" for a in (0.9650, 0.9795, 0.9832)
    )
    recorded, shown = fresh_models_validated_in_one_cell(log)
    result = grade(check(**{**OPTIMIZERS, "min_distinct": 3}), recorded, shown)
    assert sum("its result is not shown" in line for line in result.evidence) == 3


def test_variants_the_grading_environment_stopped_are_read_from_the_code_and_flagged_not_failed():
    """RAJA1155222/Optimizers reads its data from a URL: offline, every fit stops on the download's
    consequences and nothing trains; the verdict says so, from the code, at the static share."""
    layers = ("Dense", "Dense", "Dense")
    static = StaticFacts(
        models=tuple(StaticModel(name, cell, layers, (None,) * 3) for name, cell in
                     (("sgd_model", 5), ("adam_model", 6), ("rms_model", 7))),
        calls=tuple(StaticCall("fit", name, cell, argument="X_train") for name, cell in
                    (("sgd_model", 5), ("adam_model", 6), ("rms_model", 7))),
    )  # fmt: skip
    download = EnvironmentFailure(3, "download", "URLError: <urlopen error [Errno -3]>", "no network", "serve it")
    stopped = {3: download, **{cell: download for cell in (5, 6, 7)}}
    spec = check(**{**OPTIMIZERS, "min_distinct": 3})
    evidence = Evidence(answers={}, static=static)
    verdict = ComparedVariants().static(spec, CheckContext(Facts(), evidence, environment=stopped))
    assert verdict is not None and verdict.source == "static" and verdict.credit == spec.static_credit
    assert verdict.evidence[0].startswith(f"{NOT_VERIFIED} (cell 3: URLError")
    assert "sgd_model" in verdict.evidence[0] and "rms_model" in verdict.evidence[0]
    assert ComparedVariants().static(spec, CheckContext(Facts(), evidence)) is None  # the student's own failure


def test_fits_that_failed_on_the_students_own_error_are_named():
    """RahulGupta012/Optimizers: a typo (x_tarin_full) leaves x_valid undefined, so each fit cell fails."""
    static = StaticFacts(
        calls=tuple(StaticCall("fit", "model_classifier", c, argument="x_train") for c in (15, 18, 21))
    )
    context = CheckContext(Facts(), Evidence(answers={}, static=static), failed_cells=frozenset({5, 15, 18, 21}))
    verdict = ComparedVariants().run(check(**OPTIMIZERS), context)
    assert not verdict.passed
    assert "the code trains in cells 15, 18, 21, which failed with an error when run" in verdict.evidence[0]


def test_models_rebuilt_under_one_name_are_told_apart_by_their_record_ids():
    """aritra042003: ``model = models.Sequential(...)`` again before each optimizer, all in one cell."""
    recorded, shown = fresh_models_validated_in_one_cell("")
    lines = grade(check(**OPTIMIZERS), recorded, shown).evidence
    assert [line.split(",")[0] for line in lines[1:4]] == [
        "sgd: model (model 1",
        "adam: model (model 2",
        "rmsprop: model (model 3",
    ]


def test_under_no_run_the_check_says_it_needs_a_run_not_that_nothing_trained():
    context = CheckContext(Facts(), Evidence(answers={}), saved_outputs_only=True)
    verdict = ComparedVariants().run(check(**OPTIMIZERS), context)
    assert not verdict.passed and verdict.evidence[0].startswith("not judged: the notebook was not run (--no-run)")
