"""Reading the YAML and JSON files a person writes or the grader keeps, with errors for people:
each names the file and what is wrong with it (missing, unreadable, not valid YAML or JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


def read_yaml(path: Path, error: type[Exception], missing: str = "not found") -> Any:
    """The file's YAML data; ``error(message)`` raised when it cannot be had (``missing``: what to
    say when it does not exist)."""
    try:
        return yaml.safe_load(_text(path, error, missing))
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None


def read_json(path: Path, error: type[Exception], missing: str = "not found") -> Any:
    """The file's JSON data; ``error(message)`` raised when it cannot be had."""
    try:
        return json.loads(_text(path, error, missing))
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON (line {exc.lineno}): {exc.msg}") from None


def _text(path: Path, error: type[Exception], missing: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {missing}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
