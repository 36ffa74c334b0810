"""PyTorch models saved for the clean verifier outside the kernel, in a form that loads without
running student code: ``<model id>.torch.safetensors``, the weights as safetensors (no pickle)
with, in the file's metadata, the module graph that ``torch.fx`` traced: each node's operation,
the layers it calls (their classes by module and qualified name, and their constructor
arguments) and the functions and tensor methods it applies, by name. The verifier rebuilds the
model from torch's own classes and functions only (``verify_torch.py``), and a model it cannot
rebuild is reported unverified, never failed.

``torch.export`` was the first choice and is not used: its first export in a kernel costs about
2.5 s of CPU (it imports the compiler stack), and ``torch.export.load`` unpickles with
``weights_only=False``, so a file written by a notebook could run code in the verifier.

Kernel-side code (see ``common.py``).
"""

import json
import os

from grader.execute.probe.common import _fitted_objects

TORCH_SAVE_SUFFIX = ".torch.safetensors"
GRAPH_KEY = "grader-graph"
MAX_GRAPH_NODES = 5000


def _save_torch_models(probe, folder):
    """Each PyTorch model that was fit, traced and saved into ``folder``; a model that cannot be
    (control flow on tensors, a layer of its own with parameters, safetensors missing) is said in
    the warnings, and its checks then rest on the facts alone, flagged."""
    shapes = {}
    for (model_id, *_), fit in probe.torch.torch_fits.items():
        if fit.get("row_shape"):
            shapes[model_id] = fit["row_shape"]
    for model_id, module in _fitted_objects(probe, "torch"):
        try:
            _save_torch_model(module, shapes.get(model_id), os.path.join(folder, f"{int(model_id)}{TORCH_SAVE_SUFFIX}"))
        except Exception as exc:
            probe.warn(
                f"probe: model {model_id} could not be saved for verification: {type(exc).__name__}: {exc}"[:500]
            )


def _save_torch_model(module, row_shape, path):
    import torch
    import torch.fx
    from safetensors.torch import save_file

    traced = torch.fx.symbolic_trace(module)
    nodes, modules, tensors = [], {}, {}
    for node in traced.graph.nodes:
        if len(nodes) >= MAX_GRAPH_NODES:
            raise ValueError(f"the traced graph has over {MAX_GRAPH_NODES} nodes")
        target = node.target
        if node.op == "call_module":
            layer = traced.get_submodule(target)
            modules[target] = {"class": f"{type(layer).__module__}.{type(layer).__qualname__}",
                               "config": _torch_constructor_arguments(torch, layer)}  # fmt: skip
        elif node.op == "call_function":
            target = torch.fx.node._get_qualified_name(target)
        elif node.op == "get_attr":
            value = _torch_attribute(traced, target)
            if not isinstance(value, torch.Tensor):
                raise ValueError(f"{target} is not a tensor")
            tensors[f"attr:{target}"] = value
        nodes.append({"op": node.op, "name": node.name, "target": str(target),
                      "args": _graph_value(torch, node.args), "kwargs": _graph_value(torch, node.kwargs)})  # fmt: skip
    for name, value in module.state_dict().items():
        tensors[name] = value
    tensors = {name: value.detach().cpu().contiguous().clone() for name, value in tensors.items()}
    graph = {"version": 1, "nodes": nodes, "modules": modules, "input_shape": row_shape}
    save_file(tensors, path, metadata={GRAPH_KEY: json.dumps(graph)})


def _torch_attribute(root, target):
    value = root
    for part in target.split("."):
        value = getattr(value, part)
    return value


def _torch_constructor_arguments(torch, layer):
    """The arguments of ``type(layer)(...)`` that rebuild it: its attributes named like the
    constructor's parameters, when they are plain values (``bias``: whether it has one)."""
    import inspect

    config = {}
    try:
        parameters = inspect.signature(type(layer).__init__).parameters
    except (TypeError, ValueError):
        return config
    for name, parameter in parameters.items():
        if name in ("self", "device", "dtype") or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if not hasattr(layer, name):
            continue
        value = getattr(layer, name)
        if name == "bias" and (value is None or isinstance(value, torch.Tensor)):
            value = value is not None
        if _torch_plain(value):
            config[name] = list(value) if isinstance(value, tuple) else value
    return config


def _torch_plain(value):
    if isinstance(value, (list, tuple)):
        return len(value) <= 16 and all(_torch_plain(item) for item in value)
    return value is None or isinstance(value, (bool, int, float, str))


def _graph_value(torch, value):
    """A node's argument as JSON: another node by name, plain values, lists, slices, dtypes."""
    import torch.fx

    if isinstance(value, torch.fx.Node):
        return {"node": value.name}
    if isinstance(value, (list, tuple)):
        return {"list": [_graph_value(torch, item) for item in value]}
    if isinstance(value, dict):
        return {"dict": {str(key): _graph_value(torch, item) for key, item in value.items()}}
    if isinstance(value, slice):
        return {"slice": [_graph_value(torch, part) for part in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"ellipsis": True}
    if isinstance(value, torch.dtype):
        return {"dtype": str(value).removeprefix("torch.")}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"an argument of type {type(value).__name__} cannot be saved")
