"""What the grading environment provides and what students' code expects of it.

Students write for Colab and for whatever Keras their machine had. These modules know the
packages homework imports, the APIs newer releases removed, and how to tell a cell that failed
because of the grading environment from one that failed because of the student's code.
Pure: no kernel, no I/O.
"""
