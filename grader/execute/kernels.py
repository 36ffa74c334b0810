"""Whether the Jupyter kernel the notebooks run in is installed, asked before any notebook runs.

Without it every notebook of a batch would fail alike, each blamed on its own run.
"""

from __future__ import annotations


def missing_kernel(name: str) -> str | None:
    """Why the kernel ``name`` cannot start here (what to do about it), or None when it is installed."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        return (
            f"the Jupyter kernel {name!r} is not installed for this Python (see `jupyter kernelspec list`); "
            "install the grader with its kernel extra: pip install -e '.[kernel]'"
        )
    return None
