"""Export: grades.json records -> files an LMS imports, under OUT/exports/.

One module per target: canvas.py, moodle.py, blackboard.py, gradescope.py, table.py (grades.csv
and grades.json); common.py holds what they share; write.py reads grades.json and writes files.
grades_json.py writes the grades.json contract itself.
"""
