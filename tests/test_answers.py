"""Finding each question's answer in the layouts real students use."""

from pathlib import Path

import nbformat
import nbformat.v4 as nbf
import pytest

from grader.assignment import load_assignment
from grader.extract.evidence import gather_evidence
from grader.rubric import Locate, Question, Rubric

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = load_assignment(ROOT / "assignments" / "regularization").rubric
PROMPT = {q.id: q.prompt for q in RUBRIC.questions}


def answers(*cells):
    notebook = nbf.new_notebook(cells=list(cells))
    return gather_evidence(notebook, RUBRIC).answers


def md(text):
    return nbf.new_markdown_cell(text)


def test_heading_then_answer_cell():
    found = answers(
        md(f"### Q1. {PROMPT['q1']}"),
        md("It keeps a network from memorising its training data."),
        md(f"### Q2. {PROMPT['q2']}"),
        md("Bias is error from wrong assumptions."),
    )
    assert found["q1"].cells == (1,) and found["q1"].text == "It keeps a network from memorising its training data."
    assert found["q2"].cells == (3,)
    assert found["q1"].confidence >= 0.9


def test_questions_listed_first_then_answers_numbered_in_one_cell():
    listing = md(
        "### Part 1: Understanding Regularization\n\n" + "\n\n".join(f"{n}. **{PROMPT[f'q{n}']}**" for n in range(1, 5))
    )
    found = answers(
        listing,
        md("**Ans :-**"),
        md(
            "1. Regularization limits complexity.\n\n2. Bias and variance trade off.\n   1. nested item\n\n3. L1 uses absolute values.\n\n4. It improves generalization."
        ),
    )
    assert [found[f"q{n}"].cells for n in range(1, 5)] == [(2,)] * 4
    assert "nested item" in found["q2"].text
    assert found["q3"].text == "L1 uses absolute values."


def test_numbering_that_restarts_in_each_part():
    found = answers(
        md("Part 1\n\n1. Regularization limits complexity so models generalize."),
        md(
            "Part 2: Regularization Techniques\n\n1. Dropout randomly zeroes units during training.\n\n2. Early stopping watches the validation loss."
        ),
    )
    assert found["q1"].text.startswith("Regularization limits")
    assert found["q5"].text.startswith("Dropout randomly") and found["q5"].how == "number within its Part"
    assert found["q6"].text.startswith("Early stopping")


def test_prose_typed_into_code_cells_and_comment_only_cells():
    found = answers(
        nbf.new_code_cell(f"Q1. {PROMPT['q1']}"),
        nbf.new_code_cell("Regularization is a set of techniques that keep a network from overfitting its data."),
        md("5. Dropout Regularization:"),
        nbf.new_code_cell("# How it works:\n# Dropout randomly drops units during training."),
    )
    assert found["q1"].cells == (1,)
    assert found["q5"].text == "How it works:\nDropout randomly drops units during training."


def test_nested_numbered_lists_inside_an_answer_do_not_start_questions():
    found = answers(
        md(f"#### 1. {PROMPT['q1']}"),
        md(
            "Regularization matters:\n\n1. **Preventing overfitting**\n2. **Generalization**\n3. **Handling limited data**"
        ),
    )
    assert set(found) == {"q1"}
    assert "Handling limited data" in found["q1"].text


def test_a_question_pasted_as_its_own_answer_is_not_an_answer():
    found = answers(md(f"Q3. {PROMPT['q3']}"), md(PROMPT["q3"]), md(f"Q4. {PROMPT['q4']}"))
    assert "q3" not in found and "q4" not in found


@pytest.mark.parametrize(
    "garbled",
    [
        "Describe the concept of Early ztopping as a form of regularizatiop. How does it help prevent overfitting during the training process."
    ],
)
def test_pdf_garbled_question_text_still_marks_the_question(garbled):
    found = answers(md(garbled), md("Training halts once the validation loss stops improving for a few epochs."))
    assert found["q6"].text.startswith("Training halts")


def test_template_placeholders_are_not_answers():
    found = answers(md(f"### Q1. {PROMPT['q1']}"), md("*Your answer here.*"))
    assert found == {}


def test_answers_to_another_homeworks_questions_are_recognised():
    from grader.score.concepts import score_answer

    found = answers(
        md(
            "## Q1. What is the role of optimization algorithms in artificial neural networks? Why are they necessary?\n\nAns: they reduce overfitting and generalize to unseen data."
        ),
    )
    assert found["q1"].other_question.startswith("What is the role of optimization")
    result = score_answer(RUBRIC.question("q1"), found["q1"])
    assert result.score == 0 and "different question" in result.flags[0]


def test_a_paraphrased_heading_of_the_right_question_is_not_foreign():
    found = answers(
        md("## Q1. What's regularization, and why does it matter in deep learning?\n\nIt prevents overfitting.")
    )
    assert found["q1"].other_question == ""
    assert "prevents overfitting" in found["q1"].text


def test_unnumbered_answers_go_to_the_question_they_are_about_and_ask_for_review():
    found = answers(
        md(
            "Regularization is any technique that constrains a network while it trains; it is important in deep learning because big networks memorise their training data."
        ),
        md(
            "Dropout randomly switches off neurons during training so that units cannot co-adapt; at inference every unit is used."
        ),
        md(
            "Early stopping watches the validation loss and stops training when it no longer improves, keeping the best weights."
        ),
    )
    assert found["q1"].cells == (0,) and found["q5"].cells == (1,) and found["q6"].cells == (2,)
    assert found["q5"].how == "what it is about"
    marked = answers(md(f"Q5. {PROMPT['q5']}"), md("Dropout randomly switches off neurons during training."))
    assert found["q5"].confidence < 0.9 < marked["q5"].confidence


def test_a_numbered_list_inside_an_answer_stays_there_when_those_questions_are_answered_elsewhere():
    found = answers(
        md(f"Q1. {PROMPT['q1']}"),
        md(
            "Regularization keeps a network from overfitting. It matters because:\n\n1. networks have millions of weights\n\n4. data is limited\n\n6. noise is memorised otherwise"
        ),
        md(f"Q4. {PROMPT['q4']}"),
        md("It stops the model from memorising noise so it generalizes to unseen data."),
        md(f"Q6. {PROMPT['q6']}"),
        md("Training stops when the validation loss stops improving."),
    )
    assert "noise is memorised otherwise" in found["q1"].text
    assert found["q4"].text.startswith("It stops") and found["q6"].text.startswith("Training stops")


def test_a_parts_questions_listed_together_then_unlabelled_paragraphs_are_split_by_content_and_order():
    listing = md("### Part 2\n\n" + "\n".join(PROMPT[q] for q in ("q5", "q6", "q7")))
    found = answers(
        listing,
        md("Ans."),
        md(
            "Dropout randomly switches off neurons during training so units cannot co-adapt.\n\n"
            "At inference every neuron is used and activations are scaled.\n\n"
            "Early stopping monitors the validation loss and halts training when it stops improving.\n\n"
            "Batch normalization normalizes each layer's inputs over the mini-batch, which adds a little noise."
        ),
    )
    assert "At inference" in found["q5"].text and "Early stopping" not in found["q5"].text
    assert found["q6"].text.startswith("Early stopping") and found["q7"].text.startswith("Batch normalization")


def test_topic_headings_without_numbers_or_questions_and_an_empty_heading():
    found = answers(
        md("# Part 2"),
        md(
            "**Overview:**\n\n**Dropout Regularization:**\n\nDropout randomly drops units during training.\n\n"
            "## Early stopping\n\nWe stop when the validation loss rises.\n\n"
            "**Batch Normalization:**\n\nIt normalizes activations per mini-batch."
        ),
    )
    assert found["q5"].text == "Dropout randomly drops units during training."
    assert found["q6"].text == "We stop when the validation loss rises."
    assert found["q7"].text == "It normalizes activations per mini-batch."


def test_the_homeworks_own_words_come_from_its_rubric_not_from_the_code():
    from grader.extract.questions import QuestionIndex
    from grader.text import stem

    words = QuestionIndex(list(RUBRIC.questions), RUBRIC.title).homework_words
    assert {stem("regularization"), stem("deep"), stem("learning")} <= words
    assert stem("dropout") not in words and stem("overfitting") not in words  # what questions are about
    batchnorm = load_assignment(ROOT / "assignments" / "batchnorm").rubric
    words = QuestionIndex(list(batchnorm.questions), batchnorm.title).homework_words
    assert {stem("batch"), stem("normalization")} <= words and stem("regularization") not in words
    two = QuestionIndex(list(RUBRIC.questions[:2]))  # a short homework: each prompt still tells its question
    assert all(two.prompt_words[q.id] for q in two.questions)


def test_a_parts_listed_questions_answered_in_one_cell_each_with_numbered_points():
    """A real layout (the batchnorm pytorch_claims example): the Part's questions listed, "Ans :-",
    then one cell per answer, each with its own numbered list whose numbers are not question numbers."""
    assignment = load_assignment(ROOT / "assignments" / "batchnorm")
    notebook = nbformat.read(ROOT / "assignments" / "batchnorm" / "examples" / "pytorch_claims.ipynb", as_version=4)
    found = gather_evidence(notebook, assignment.rubric, assignment.template_lines).answers
    assert [found[qid].cells[0] for qid in ("q1_1", "q1_2", "q1_3")] == [2, 3, 4]
    assert 4 not in found["q1_1"].cells and 3 not in found["q1_3"].cells


def test_a_question_with_its_answer_run_on_in_the_same_line():
    """A real layout (pasted into raw cells): "1. <the question>?<the answer>" with no break, then the answer's
    own numbered points. The question text is the marker; what follows it on the line is the answer."""
    found = answers(
        nbf.new_raw_cell(
            f"1. {PROMPT['q1']}**Regularization** keeps a network from fitting noise in its training data.\n\n"
            "1. **Preventing overfitting:** the weights stay small.\n\n"
            "2. **Generalization:** it does better on unseen data."
        ),
        nbf.new_raw_cell(
            f"2. {PROMPT['q2']}The **bias-variance tradeoff** balances underfitting and overfitting.\n\n"
            "1. **Bias:** a too simple model.\n\n2. **Variance:** a too flexible model."
        ),
    )
    assert found["q1"].text.startswith("**Regularization** keeps") and "unseen data" in found["q1"].text
    assert found["q2"].text.startswith("The **bias-variance tradeoff**") and found["q2"].other_question == ""
    assert "too flexible" in found["q2"].text and "too simple" not in found["q1"].text


def test_a_parts_questions_listed_then_answered_below_them_in_the_same_cell():
    """A real layout (a chat answer pasted under the Part's questions): the last listed question does not
    own the paragraphs after the list; they answer the listed questions in order."""
    found = answers(
        md(
            f"## Part 2\n{PROMPT['q5']}\n\n{PROMPT['q6']}\n\n{PROMPT['q7']}\n\n"
            "Dropout\nDropout randomly switches off neurons during training so units cannot co-adapt.\n\n"
            "Early Stopping\nEarly stopping monitors the validation loss and halts training when it stops.\n\n"
            "Batch Normalization\nBatch normalization normalizes each layer's inputs over the mini-batch."
        )
    )
    assert found["q5"].text.startswith("Dropout") and "validation loss" not in found["q5"].text
    assert found["q6"].text.startswith("Early Stopping") and found["q7"].text.startswith("Batch Normalization")


def test_an_unlabelled_answer_that_opens_by_naming_its_topic_starts_that_question():
    """A real layout: one cell per answer, no question text, no numbers; a careful reader goes by what each
    answer says it is about ("The bias variance tradeoff is ..."), even when its words are the homework's
    common ones (overfit, penalty, new data)."""
    found = answers(
        md(
            "Regularization in deep learning means adding constraints or penalties so a network does not overfit; "
            "it is important because big models memorise noise in the training data and then fail on new data."
        ),
        md(
            "The bias variance tradeoff is a basic idea in machine learning about the error of a model. High bias "
            "comes from a model that is too simple for the real world data, while high variance means the model fits "
            "the training data too well and fails to generalize to unseen data. Regularization controls the complexity "
            "of the model with a penalty term added to the loss, so the model generalizes well to new data."
        ),
        md("L1 and L2 regularization add the sum of the absolute or of the squared weights to the loss."),
    )
    assert found["q1"].cells == (0,) and found["q2"].cells == (1,) and found["q3"].cells == (2,)


def test_answers_printed_or_kept_in_a_string_in_a_code_cell_are_read():
    """Answers written as print("...") or as a triple-quoted string in a cell that also runs code are the student's
    prose; short messages a program prints ("Test accuracy:") and code comments are not."""
    found = answers(
        md(f"Q1. {PROMPT['q1']}"),
        nbf.new_code_cell(
            'print("Regularization adds a penalty to the loss so that the network does not overfit its training '
            'data and generalizes to unseen data.")'
        ),
        md(f"Q5. {PROMPT['q5']}"),
        nbf.new_code_cell(
            'answer = """Dropout randomly switches off neurons during training so that they cannot co-adapt,\n'
            'and at inference every neuron is used with its output scaled."""\nprint(answer)'
        ),
        md(f"Q8. {PROMPT['q8']}"),
        nbf.new_code_cell(
            '# Load the MNIST digits and scale them to 0..1 before training\nprint("Test accuracy:", 0.97)'
        ),
    )
    assert found["q1"].text.startswith("Regularization adds a penalty") and found["q1"].cells == (1,)
    assert "at inference every neuron" in found["q5"].text
    assert "q8" not in found


# Another homework of the course (the Optimizers prompts only: no reference, no concepts), to test layouts whose
# answers share most of their words, as that homework's do.
OPTIMIZERS = Rubric(
    title="Optimizers",
    questions=[
        Question(id=f"q{n}", prompt=prompt, points=10, locate=Locate(part=part, number_in_part=within))
        for n, (part, within, prompt) in enumerate(
            [
                (
                    1,
                    1,
                    "What is the role of optimization algorithms in artificial neural networks? Why are they necessary?",
                ),
                (
                    1,
                    2,
                    "Explain the concept of gradient descent and its variants. Discuss their differences and tradeoffs in terms of convergence speed and memory requirements.",
                ),
                (
                    1,
                    3,
                    "Describe the challenges associated with traditional gradient descent optimization methods (e.g., slow convergence, local minima). How do modern optimizers address these challenges?",
                ),
                (
                    1,
                    4,
                    "Discuss the concepts of momentum and learning rate in the context of optimization algorithms. How do they impact convergence and model performance?",
                ),
                (
                    2,
                    1,
                    "Explain the concept of Stochastic Gradient Descent (SGD) and its advantages compared to traditional gradient descent. Discuss its limitations and scenarios where it is most suitable.",
                ),
                (
                    2,
                    2,
                    "Describe the concept of Adam optimizer and how it combines momentum and adaptive learning rates. Discuss its benefits and potential drawbacks.",
                ),
                (
                    2,
                    3,
                    "Explain the concept of RMSprop optimizer and how it addresses the challenges of adaptive learning rates. Compare it with Adam and discuss their relative strengths and weaknesses.",
                ),
                (
                    3,
                    1,
                    "Implement SGD, Adam, and RMSprop optimizers in a deep learning model using a framework of your choice. Train the model on a suitable dataset and compare their impact on model convergence and performance.",
                ),
                (
                    3,
                    2,
                    "Discuss the considerations and tradeoffs when choosing the appropriate optimizer for a given neural network architecture and task. Consider factors such as convergence speed, stability, and generalization performance.",
                ),
            ],
            start=1,
        )
    ],
)


def optimizers_answers(*cells):
    return gather_evidence(nbf.new_notebook(cells=list(cells)), OPTIMIZERS).answers


def test_answers_numbered_on_after_a_first_line_that_restates_question_one():
    """A real layout (a public Optimizers notebook): the Part's questions listed, then "Ans:-" and one cell whose
    first line restates question 1 ("1. The role of ...:"), the next answers numbered on ("2.", "3.", "4.") under
    short topic lines. The numbering the cell began is the answers'; question 4's answer was read as question 3's."""
    found = optimizers_answers(
        md(
            "#### Part 1: Understanding Optimizers:\n    \n"
            + "\n".join(f"{n}. {OPTIMIZERS.questions[n - 1].prompt}" for n in range(1, 5))
        ),
        md(
            "Ans:-\n    \n"
            "1. The role of optimization algorithms in artificial neural networks:\n"
            "Optimization algorithms find the values of the weights and biases that minimize the difference between "
            "predicted outputs and actual targets; a network has too many parameters to adjust by hand.\n\n"
            "2. Gradient Descent and its variants:\n"
            "Gradient Descent updates the parameters in the opposite direction of the gradient of the loss function.\n\n"
            "- Stochastic Gradient Descent (SGD): the model updates the parameters after each data point. This can lead "
            "to noisy updates but can help escape local minima. It has lower memory requirements.\n\n"
            "- Batch Gradient Descent: it updates the parameters after the entire training set. It requires more memory.\n\n"
            "3. Challenges associated with traditional gradient descent methods and modern optimizers:\n"
            "- Slow Convergence: Gradient Descent can be slow to converge, especially for large datasets and complex models.\n\n"
            "- Local Minima: The optimization process may get stuck in local minima.\n\n"
            "Modern optimizers address these challenges using various techniques:\n\n"
            "- Momentum: Momentum introduces the concept of velocity to the updates. It helps overcome slow convergence.\n\n"
            "- Adaptive Learning Rates: Many modern optimizers use adaptive learning rates that adjust the step size "
            "based on the past gradients.\n\n"
            "4. Momentum and Learning Rate in optimization algorithms:\n\n"
            "- Momentum: In optimization, momentum is a hyperparameter that controls the contribution of the past "
            "velocity (accumulated gradients) to the current update. Too high momentum can lead to overshooting the minimum.\n\n"
            "- Learning Rate: Learning rate is another critical hyperparameter that determines the step size for parameter "
            "updates during optimization. A higher learning rate allows faster convergence but may risk overshooting.\n\n"
            "In summary, the choice of optimizer and its hyperparameters significantly impact the training process."
        ),
    )
    assert found["q2"].text.startswith("Gradient Descent updates") and "Batch Gradient Descent" in found["q2"].text
    assert found["q3"].text.startswith("- Slow Convergence") and "past gradients" in found["q3"].text
    assert found["q4"].text.startswith("- Momentum: In optimization") and "Learning rate is another" in found["q4"].text


def test_text_before_a_parts_label_does_not_answer_that_part():
    """A real layout (a public Optimizers notebook, all typed into code cells): question 7's answer ends on a section
    "Choosing Between Adam and RMSprop"; the "Part 3" label comes after it, and question 8 is answered in code only.
    That section is question 7's, not question 8's, though question 8's prompt names Adam and RMSprop too."""
    code = nbf.new_code_cell
    found = optimizers_answers(
        code("Part 2: Optimizer Techniques"),
        code(
            f"7. {OPTIMIZERS.questions[6].prompt}\n\n\n\n"
            "**RMSprop Optimizer:**\n\n"
            "The RMSprop (Root Mean Square Propagation) optimizer is an optimization algorithm that addresses some of the "
            "challenges associated with adaptive learning rates. It adjusts the learning rates for each parameter "
            "individually based on the historical information of gradients.\n\n"
            "**Comparison with Adam:**\n\n"
            "1. **Memory Requirements:**\n"
            "   - **Adam:** Maintains two moving averages per parameter, resulting in higher memory requirements.\n"
            "   - **RMSprop:** Requires only one moving average per parameter.\n\n"
            "**Choosing Between Adam and RMSprop:**\n"
            "- **Adam:** Consider using Adam as a default choice when starting experimentation. It is versatile and "
            "often performs well across different tasks.\n"
            "- **RMSprop:** Can be a good alternative when memory efficiency is a concern, or in scenarios where Adam "
            "might be too aggressive.\n\n"
            "In practice, the choice between Adam and RMSprop may involve empirical testing on the specific task and "
            "dataset. Researchers and practitioners often experiment with different optimizers to find the one that "
            "works best for their particular use case."
        ),
        code("Part 3: Applying Optimizers"),
        code(
            "# 8. Implement SGD, Adam, and RMSprop optimizers in a deep learning model using a framework of your\n"
            "# choice. Train the model on a suitable dataset and compare their impact on model convergence and\n"
            "# performance.\n\nimport tensorflow as tf\nmodel = tf.keras.Sequential([tf.keras.layers.Dense(1)])\n"
        ),
    )
    assert "q8" not in found and "q9" not in found
    assert found["q7"].text.endswith("their particular use case.")


def test_a_parts_questions_wrapped_as_pasted_then_answers_one_numbered_by_mistake():
    """A real layout (a public Optimizers notebook): after question 1 and the others, Part 3's two questions pasted
    into a code cell, each wrapped over lines as in the PDF; "Ans:-" and question 8's prose, its code, then question 9's answer numbered "1." under a
    heading that restates question 9. The wrapped lines are copies of questions 8 and 9 (a list of both), and the
    "1." (question 8 within Part 3) gives way to the heading that names question 9."""
    found = optimizers_answers(
        md(f"1. {OPTIMIZERS.questions[0].prompt}\n\nThey find the weights and biases that minimize the loss."),
        nbf.new_code_cell(
            "Part 3: Applyiog Optimizers\n"
            "8. Implement SGD, Adam, and RMSprop optimizers in a deep learning model using a framework of your\n"
            "choice. Train the model on a suitable dataset and compare their impact on model convergence and\n"
            "performance.\n"
            "9. Discuss the considerations and tradeoffs when choosing the appropriate optimizer for a given neural\n"
            "network architecture and task. onsider factors such as convergence speed, stability, and\n"
            "generalization performance."
        ),
        md(
            "Ans:-\n    \n    Implementing SGD, Adam, and RMSprop optimizers in a deep learning model:\n"
            "For this implementation, I will use Keras and the MNIST dataset. We will create a simple deep learning "
            "model with three dense layers and compare the performance of SGD, Adam, and RMSprop optimizers."
        ),
        nbf.new_code_cell("model.compile(optimizer=SGD(learning_rate=0.01), loss='categorical_crossentropy')"),
        md(
            "1. Considerations and tradeoffs when choosing the appropriate optimizer:\n\n"
            "When choosing the optimizer for a given neural network architecture and task, several considerations and "
            "tradeoffs need to be taken into account:\n\n"
            "- Convergence Speed: Some optimizers converge faster than others. Adaptive optimizers like Adam and RMSprop "
            "often converge faster in practice as they adjust the learning rate based on past gradients.\n\n"
            "- Stability: SGD can be more prone to oscillations due to noisy updates, while adaptive optimizers tend "
            "to have more stable updates.\n\n"
            "- Generalization Performance: Some optimizers may overfit on the training data and perform poorly on "
            "unseen data."
        ),
    )
    assert found["q8"].cells == (2,) and found["q8"].text.startswith("Implementing SGD")
    assert found["q9"].cells == (4,) and "Implement" not in found["q9"].text
