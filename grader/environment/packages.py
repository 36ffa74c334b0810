"""The packages homework imports, by import name, and how an instructor provides a missing one."""

from __future__ import annotations

# Import name -> the pip package that provides it, for names that differ or that homework uses often.
PIP_NAMES = {
    "PIL": "pillow",
    "cv2": "opencv-python-headless",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "yaml": "pyyaml",
    "tensorboard": "tensorboard",
    "tensorboardX": "tensorboardX",
    "torchvision": "torchvision",
    "torchaudio": "torchaudio",
    "torchtext": "torchtext",
    "torchsummary": "torchsummary",
    "torchinfo": "torchinfo",
    "keras_tuner": "keras-tuner",
    "kerastuner": "keras-tuner",
    "tensorflow_datasets": "tensorflow-datasets",
    "tensorflow_hub": "tensorflow-hub",
    "tf_keras": "tf-keras",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "plotly": "plotly",
    "statsmodels": "statsmodels",
    "scipy": "scipy",
    "tqdm": "tqdm",
    "mlxtend": "mlxtend",
    "imblearn": "imbalanced-learn",
    "transformers": "transformers",
    "datasets": "datasets",
    "wandb": "wandb",
    "mlflow": "mlflow",
    "optuna": "optuna",
    "lightning": "lightning",
    "pytorch_lightning": "pytorch-lightning",
    "timm": "timm",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
}

# Modules that exist only on a hosted notebook service: nothing to install, the lines cannot run here.
HOSTED_ONLY = {
    "google.colab": "Colab",
    "kaggle_secrets": "Kaggle",
    "kaggle_datasets": "Kaggle",
}


def pip_name(module: str) -> str:
    """The package to install for an import of ``module`` (its top-level name)."""
    top = module.split(".")[0]
    return PIP_NAMES.get(top, top.replace("_", "-"))


# Releases published under another name than the module they provide (beside PIP_NAMES read backwards).
_PROVIDES = {
    "opencv-python": "cv2",
    "opencv-contrib-python": "cv2",
    "opencv-contrib-python-headless": "cv2",
    "tensorflow-cpu": "tensorflow",
    "tensorflow-gpu": "tensorflow",
    "tensorflow-intel": "tensorflow",
    "keras-nightly": "keras",
}


def provided_modules(package: str) -> set[str]:
    """The modules a pip package (as ``pip install`` names it) provides: ``scikit-learn`` -> {sklearn}."""
    wanted = _normalized(package)
    modules = {module for module, name in PIP_NAMES.items() if _normalized(name) == wanted}
    modules |= {module for name, module in _PROVIDES.items() if _normalized(name) == wanted}
    return modules or {wanted.replace("-", "_")}


def _normalized(package: str) -> str:
    return package.lower().replace("_", "-").replace(".", "-")


def hosted_only(module: str) -> str | None:
    """The service ``module`` exists only on (``google.colab.drive`` -> "Colab"), or None."""
    for name, service in HOSTED_ONLY.items():
        if module == name or module.startswith(name + "."):
            return service
    return None


# torch and the packages that load only beside the torch they were built for: `pip install NAME` alone
# would take whatever release is newest, and may replace torch.
_TORCH_EXTRA = (
    "the grader's `torch` extra (`pip install 'notebook-grader[torch]'`), which pins torch 2.14.1 "
    "with the torchvision 0.29.1 built for it"
)
TORCH_MATCHED = {
    "torch": _TORCH_EXTRA,
    "torchvision": _TORCH_EXTRA,
    "torchaudio": "the torchaudio release of the installed torch (`pip install torchaudio==X` for torch X)",
}


def install_fix(module: str) -> str:
    """What an instructor does so that ``import module`` works in the kernel."""
    service = hosted_only(module)
    if service is not None:
        return (
            f"{module} exists only on {service}: its lines cannot run here; serve the files the notebook "
            "reads with `files:` in assignment.yaml"
        )
    name = pip_name(module)
    if name in TORCH_MATCHED:
        return f"install {name} into the kernel's environment: {TORCH_MATCHED[name]}"
    return f"install {name} into the kernel's environment (`pip install {name}`)"
