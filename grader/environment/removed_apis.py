"""APIs that students' older Keras, TensorFlow, scikit-learn, NumPy and pandas had and ours removed.

Each entry says how to see it in code (for ``grader doctor``, before anything runs) and in a
failing cell's error (for failure attribution, after), and what replaced it. Spotting the code
is a hint; the error is the proof.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPTIMIZERS = r"(?:SGD|Adam|AdamW|RMSprop|Adagrad|Adadelta|Adamax|Nadam|Ftrl|Lion)"


@dataclass(frozen=True)
class RemovedApi:
    id: str
    what: str  # the old call, as a student writes it
    why: str  # what happened to it
    fix: str  # what the student's code should say today
    code: re.Pattern  # the old call in source code
    error: re.Pattern  # the error it raises here ("Ename: evalue")
    translated: bool  # the probe runs it as ``fix`` (execute/probe/compat.py), with a note


def _api(id: str, what: str, why: str, fix: str, code: str, error: str, translated: bool = True) -> RemovedApi:
    return RemovedApi(id, what, why, fix, re.compile(code), re.compile(error, re.DOTALL), translated)


REMOVED_APIS = (
    _api(
        "optimizer_lr",
        "an optimizer's lr= argument",
        "lr was removed in Keras 3",
        "learning_rate=",
        rf"\b{_OPTIMIZERS}\s*\([^)]*\blr\s*=",
        r"Argument\(s\) not recognized: \{[^}]*'lr'",
    ),
    _api(
        "optimizers_legacy",
        "keras.optimizers.legacy",
        "the legacy optimizers were removed in Keras 3",
        "keras.optimizers.<Name>",
        r"optimizers\.legacy\b",
        r"optimizers\.legacy` is not supported in Keras 3",
    ),
    _api(
        "generator_methods",
        "fit_generator / evaluate_generator / predict_generator",
        "the *_generator methods were removed in Keras 3",
        "fit / evaluate / predict, which take generators",
        r"\.(?:fit|evaluate|predict)_generator\s*\(",
        r"has no attribute '(?:fit|evaluate|predict)_generator'",
    ),
    _api(
        "predict_classes",
        "model.predict_classes / predict_proba",
        "removed in TensorFlow 2.6",
        "model.predict(x).argmax(axis=-1)",
        r"\.predict_(?:classes|proba)\s*\(",
        r"object has no attribute 'predict_(?:classes|proba)'",
    ),
    _api(
        "experimental_preprocessing",
        "layers.experimental.preprocessing.*",
        "the preprocessing layers left `experimental` in TensorFlow 2.6 and were removed from it in Keras 3",
        "keras.layers.<Name> (e.g. keras.layers.Rescaling)",
        r"layers\.experimental\b",
        r"has no attribute 'experimental'|No module named '[\w.]*layers\.experimental",
    ),
    _api(
        "keras_wrappers",
        "keras.wrappers.scikit_learn (KerasClassifier)",
        "removed in Keras 3",
        "the scikeras package (scikeras.wrappers.KerasClassifier)",
        r"keras\.wrappers\b",
        r"No module named '(?:tensorflow\.)?keras\.wrappers",
        translated=False,
    ),
    _api(
        "np_utils",
        "keras.utils.np_utils",
        "removed in Keras 3",
        "keras.utils.to_categorical",
        r"\bnp_utils\b",
        r"No module named 'keras\.utils\.np_utils'|cannot import name 'np_utils'",
    ),
    _api(
        "keras_submodules",
        "keras.layers.core / convolutional / recurrent / ... imports",
        "Keras 3 has no such submodules",
        "import the layers from keras.layers",
        r"keras\.layers\.(?:core|convolutional|recurrent|normalization|pooling|merge|advanced_activations|embeddings)\b",
        r"No module named '(?:tensorflow\.)?keras\.layers\.\w+'",
    ),
    _api(
        "image_data_generator",
        "ImageDataGenerator",
        "removed in Keras 3",
        "keras.utils.image_dataset_from_directory and preprocessing layers",
        r"\bImageDataGenerator\b",
        r"has no attribute 'ImageDataGenerator'|cannot import name 'ImageDataGenerator'",
        translated=False,
    ),
    _api(
        "load_boston",
        "sklearn.datasets.load_boston",
        "removed in scikit-learn 1.2",
        "another dataset, e.g. fetch_california_housing",
        r"\bload_boston\b",
        r"`load_boston` has been removed",
        translated=False,
    ),
    _api(
        "numpy_aliases",
        "np.float / np.int / np.bool / np.object",
        "the aliases were removed in NumPy 1.24",
        "float / int / bool / object (or np.float64, np.int64)",
        r"\b(?:np|numpy)\.(?:float|int|bool|object|str|complex)\b",
        r"module 'numpy' has no attribute '(?:float|int|bool|object|str|complex)'",
    ),
    _api(
        "pandas_append",
        "DataFrame.append / Series.append",
        "removed in pandas 2.0",
        "pd.concat([...])",
        r"(?!)",
        r"'(?:DataFrame|Series)' object has no attribute 'append'",
    ),
    _api(
        "history_acc",
        "a History's 'acc' / 'val_acc' keys",
        "Keras 2.3 renamed them 'accuracy' / 'val_accuracy'",
        "history.history['accuracy'] (and 'val_accuracy')",
        r"""\[\s*\[?\s*['"](?:val_)?acc['"]""",
        r"^KeyError: .*'(?:val_)?acc'",
    ),
    _api(
        "keras_removed_name",
        "a name Keras 3 no longer has",
        "removed in Keras 3",
        "its Keras 3 replacement",
        r"(?!)",
        r"cannot import name '\w+' from '(?:tensorflow\.)?keras[\w.]*'",
        translated=False,
    ),
)


def removed_api_in_error(ename: str, evalue: str) -> RemovedApi | None:
    """The removed API a failing cell's error names, or None."""
    text = f"{ename}: {evalue}"
    return next((api for api in REMOVED_APIS if api.error.search(text)), None)


def removed_apis_in_code(source: str) -> list[RemovedApi]:
    """The removed APIs a piece of source code appears to use."""
    return [api for api in REMOVED_APIS if api.code.search(source)]
