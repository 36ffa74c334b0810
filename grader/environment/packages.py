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


def hosted_only(module: str) -> str | None:
    """The service ``module`` exists only on (``google.colab.drive`` -> "Colab"), or None."""
    for name, service in HOSTED_ONLY.items():
        if module == name or module.startswith(name + "."):
            return service
    return None


# Packages whose usual wheel is the wrong build for a CPU grading machine.
CPU_BUILDS = {
    "torchvision": "the CPU build matching the installed torch (`pip install torchvision==0.28.0 --index-url "
    "https://download.pytorch.org/whl/cpu` for torch 2.13.0)",
    "torchaudio": "the CPU build matching the installed torch (from https://download.pytorch.org/whl/cpu)",
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
    if name in CPU_BUILDS:
        return f"install {name} into the kernel's environment: {CPU_BUILDS[name]}"
    return f"install {name} into the kernel's environment (`pip install {name}`)"
