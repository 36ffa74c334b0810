"""A batch: every submission through the pipeline, N kernels at once or on a dask cluster, each
result committed to the gradebook as it lands.

The coordinator (this process) reads the submissions, skips the ones whose notebook already ran
under the same execution settings, hands the rest to an executor as ``Job`` records (plain data),
and for each result that comes back writes the executed notebook and the run + grade rows in one
transaction. Executors only run notebooks: ``LocalExecutor`` drives N kernels from N threads of
this process (each kernel is its own process; the kernels exit by themselves when this process is
killed), ``DaskExecutor`` sends the same ``run_job`` to the workers of a dask.distributed cluster.
Scoring always happens here, on the stored form of the execution, so a fresh grade, a cached one
and a rescore see exactly the same data.
"""

from grader.batch.class_results import ClassGrades, class_grades, publish, rescore_many, review_items, score_runs
from grader.batch.executors import BatchError, DaskExecutor, Executor, LocalExecutor, make_executor
from grader.batch.grading import BatchResult, Progress, grade_batch
from grader.batch.jobs import Job, make_job, run_job
from grader.batch.settings import (
    code_digest,
    default_jobs,
    execution_settings,
    file_sha256,
    grader_version,
    scoring_fingerprint,
    threads_per_kernel,
)

__all__ = [
    "BatchError", "BatchResult", "ClassGrades", "DaskExecutor", "Executor", "Job", "LocalExecutor", "Progress",
    "class_grades", "code_digest", "default_jobs", "execution_settings", "file_sha256", "grade_batch", "grader_version",
    "make_executor", "make_job", "publish", "rescore_many", "review_items", "run_job", "score_runs",
    "scoring_fingerprint", "threads_per_kernel",
]  # fmt: skip
