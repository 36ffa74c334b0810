"""Grade Jupyter notebook homework: run it safely, score written answers, verify the code from what ran."""


def check(question=None, *, notebook=None, assignment=None):
    """In a notebook cell: `import grader; grader.check()` shows how the grader sees your saved work."""
    from grader.selfcheck import check as run_check

    return run_check(question, notebook=notebook, assignment=assignment)
