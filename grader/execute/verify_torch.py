"""The clean verifier's PyTorch part: rebuilds a model the probe saved (``probe/torch_save.py``)
from torch's own classes and functions only, without running anything the file names.

Part of the verifier's program (``verify.py`` joins it before ``verify_worker.py``): imports only
the standard library at the top; torch, numpy and safetensors are handed in. Everything in the
file is the notebook's to write, so it is read as data: the weights with safetensors (no pickle);
each layer's class looked up by its module and qualified name in ``LAYERS`` (torch's classes, as
this process imported them), built on the meta device from plain constructor arguments, then
given the file's weights with every name and shape checked; each function by its qualified name
in ``FUNCTIONS`` and each tensor method by name in ``METHODS``; the graph run by a small
interpreter (no code is generated or executed from the file). Dropout applied as a function is
the identity here, as in evaluation.
"""

import inspect
import json

GRAPH_KEY = "grader-graph"
MAX_NODES = 5000
MAX_MODULES = 500
LAYER_NAMES = (
    "Linear", "Bilinear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "BatchNorm1d",
    "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "Dropout", "Dropout1d",
    "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout", "ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU",
    "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Softplus", "Hardtanh",
    "Flatten", "Unflatten", "Identity", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "ZeroPad2d", "Embedding",
)  # fmt: skip
FUNCTIONAL = (
    "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "sigmoid", "tanh", "softmax",
    "log_softmax", "softplus", "hardtanh", "linear", "conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d",
    "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "layer_norm", "normalize", "pad",
)  # fmt: skip
TORCH_FUNCTIONS = (
    "relu", "sigmoid", "tanh", "softmax", "log_softmax", "flatten", "reshape", "cat", "stack", "squeeze", "unsqueeze",
    "transpose", "permute", "mean", "sum", "add", "mul", "matmul", "exp", "log", "sqrt", "abs", "clamp", "max_pool2d",
)  # fmt: skip
DROPOUT_FUNCTIONS = ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout")
OPERATORS = ("add", "sub", "mul", "truediv", "floordiv", "neg", "matmul", "getitem", "pow")
METHODS = frozenset((
    "view", "reshape", "flatten", "size", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "squeeze", "unsqueeze",
    "permute", "transpose", "contiguous", "float", "mean", "sum", "add", "mul", "matmul", "exp", "log", "clamp",
    "view_as", "reshape_as", "t", "abs", "sqrt", "pow", "div", "sub", "neg", "expand", "repeat",
))  # fmt: skip
SHAPE_ATTRIBUTES = frozenset(("shape", "ndim", "dtype"))
DTYPES = frozenset(("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"))


class TorchModel:
    """A model rebuilt from a ``.torch.safetensors`` file, in evaluation mode."""

    def __init__(self, torch, path):
        from safetensors import safe_open

        self.torch = torch
        with safe_open(path, framework="pt") as saved:
            graph = json.loads((saved.metadata() or {}).get(GRAPH_KEY) or "null")
            if not isinstance(graph, dict) or graph.get("version") != 1:
                raise ValueError("the file holds no model graph the grader wrote")
            weights = {name: saved.get_tensor(name) for name in saved.keys()}
        self.nodes = list(graph.get("nodes") or [])
        if len(self.nodes) > MAX_NODES or len(graph.get("modules") or {}) > MAX_MODULES:
            raise ValueError("the model graph is over the verifier's size limits")
        self.input_shape = _shape(graph.get("input_shape"))
        floating = [tensor.dtype for tensor in weights.values() if tensor.is_floating_point()]
        self.dtype = floating[0] if floating else torch.float32  # a model made .double() is fed doubles
        self.functions = _functions(torch)
        self.modules = {
            target: _layer(torch, spec, target, weights) for target, spec in dict(graph.get("modules") or {}).items()
        }
        self.attributes = {name[5:]: value for name, value in weights.items() if name.startswith("attr:")}
        for node in self.nodes:
            self._check(node)
        self.layers = self._called_layers()

    def _check(self, node):
        """Refuses, before anything runs, a node the interpreter would not run."""
        op, target = node.get("op"), str(node.get("target"))
        known = {
            "placeholder": True,
            "output": True,
            "get_attr": target in self.attributes,
            "call_module": target in self.modules,
            "call_function": target in self.functions or target == "builtins.getattr",
            "call_method": target in METHODS,
        }
        if not known.get(op, False):
            raise ValueError(
                f"the model's graph has a {str(op)[:40]} of {target[:120]}, which the verifier does not run"
            )

    def _called_layers(self):
        layers, seen = [], set()
        for node in self.nodes:
            target = node.get("target")
            if node.get("op") == "call_module" and target not in seen and target in self.modules:
                seen.add(target)
                layer = self.modules[target]
                rate = getattr(layer, "p", None)
                units = getattr(layer, "out_features", None) or getattr(layer, "out_channels", None)
                layers.append({
                    "path": f"{type(layer).__module__}.{type(layer).__qualname__}",
                    "rate": float(rate) if isinstance(rate, (int, float)) else None,
                    "units": int(units) if isinstance(units, int) else None,
                })  # fmt: skip
        return layers

    def candidate_shapes(self, images):
        """Ways to hand the served images to the model: the shape it was trained on first."""
        np_shape = images.shape
        count, rest = np_shape[0], tuple(np_shape[1:])
        ways = []
        if self.input_shape and shape_size(self.input_shape) == shape_size(rest):
            if len(rest) == 3 and tuple(self.input_shape) == (rest[2], rest[0], rest[1]):
                ways.append(lambda x: x.transpose(0, 3, 1, 2))  # channels last as served, first as trained
            ways.append(lambda x: x.reshape((count, *self.input_shape)))
        ways += [lambda x: x.reshape(count, -1), lambda x: x.reshape(count, 1, *rest), lambda x: x]
        if len(rest) == 3:
            ways.append(lambda x: x.transpose(0, 3, 1, 2))
        return ways

    def predict(self, np, images):
        torch = self.torch
        outputs = []
        with torch.no_grad():
            for start in range(0, len(images), 256):
                batch = torch.from_numpy(np.ascontiguousarray(images[start : start + 256])).to(self.dtype)
                result = self.run(batch)
                if isinstance(result, (list, tuple)):
                    result = result[0]
                outputs.append(result.detach().cpu().numpy())
        return np.concatenate(outputs)

    def run(self, inputs):
        """The graph evaluated on ``inputs`` by lookup only: nodes refer to earlier nodes by name."""
        values, placeholders = {}, 0
        for node in self.nodes:
            op, name, target = node.get("op"), str(node.get("name")), str(node.get("target"))
            args = _decode(self.torch, node.get("args"), values)
            kwargs = _decode(self.torch, node.get("kwargs"), values)
            args, kwargs = tuple(args or ()), dict(kwargs or {})
            if op == "placeholder":
                if placeholders:
                    raise ValueError("the model takes more than one input")
                placeholders, values[name] = 1, inputs
            elif op == "get_attr":
                values[name] = self.attributes[target]
            elif op == "call_module":
                values[name] = self.modules[target](*args, **kwargs)
            elif op == "call_function":
                values[name] = self._call_function(target, args, kwargs)
            elif op == "call_method":
                if target not in METHODS or not args or not isinstance(args[0], self.torch.Tensor):
                    raise ValueError(f"the model calls a tensor method the verifier does not run: {target[:80]}")
                values[name] = getattr(args[0], target)(*args[1:], **kwargs)
            elif op == "output":
                return args[0]
            else:
                raise ValueError(f"unknown graph operation {str(op)[:40]}")
        raise ValueError("the model graph has no output")

    def _call_function(self, target, args, kwargs):
        if target == "builtins.getattr":
            if len(args) != 2 or args[1] not in SHAPE_ATTRIBUTES or not isinstance(args[0], self.torch.Tensor):
                raise ValueError("the model reads a tensor attribute the verifier does not allow")
            return getattr(args[0], args[1])
        function = self.functions.get(target)
        if function is None:
            raise ValueError(f"the model calls a function the verifier does not run: {target[:120]}")
        return function(*args, **kwargs)


def _functions(torch):
    """Qualified name (as ``torch.fx`` writes it) -> the function, from this process's torch."""
    import operator

    from torch.fx.node import _get_qualified_name

    functional = torch.nn.functional
    chosen = [getattr(functional, name) for name in FUNCTIONAL if hasattr(functional, name)]
    chosen += [getattr(torch, name) for name in TORCH_FUNCTIONS if hasattr(torch, name)]
    chosen += [getattr(operator, name) for name in OPERATORS]
    table = {_get_qualified_name(function): function for function in chosen}
    for name in DROPOUT_FUNCTIONS:
        if hasattr(functional, name):
            table[_get_qualified_name(getattr(functional, name))] = _unchanged
    return table


def _unchanged(tensor, *args, **kwargs):
    return tensor


def _layer(torch, spec, target, weights):
    """One layer: torch's class named in ``spec``, built from plain arguments, with its weights."""
    classes = {f"{cls.__module__}.{cls.__qualname__}": cls for cls in (getattr(torch.nn, n) for n in LAYER_NAMES)}
    path = str((spec or {}).get("class"))
    cls = classes.get(path)
    if cls is None:
        raise ValueError(f"layer {target[:80]} is a {path[:200]}, not one of torch's own layer classes")
    parameters = inspect.signature(cls.__init__).parameters
    config = {key: _plain(value) for key, value in dict(spec.get("config") or {}).items() if key in parameters}
    prefix = f"{target}."
    own = {name[len(prefix) :]: tensor for name, tensor in weights.items() if name.startswith(prefix)}
    if "device" in parameters:
        config["device"] = "meta"  # nothing is allocated before the weights' shapes are known to fit
    floating = [tensor.dtype for tensor in own.values() if tensor.is_floating_point()]
    if floating and "dtype" in parameters:
        config["dtype"] = floating[0]  # a layer made .double() stays double
    layer = cls(**config)
    expected = layer.state_dict()
    if set(own) != set(expected):
        raise ValueError(f"layer {target[:80]}'s saved weights do not match a {cls.__name__} of its arguments")
    for name, tensor in own.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise ValueError(
                f"layer {target[:80]}'s {name} has shape {tuple(tensor.shape)}, not {tuple(expected[name].shape)}"
            )
    if "device" in parameters:
        layer = layer.to_empty(device="cpu")
    layer.load_state_dict(own, strict=True)
    return layer.eval()


def _plain(value):
    if isinstance(value, list):
        if len(value) > 16:
            raise ValueError("a layer argument is too long")
        return tuple(_plain(item) for item in value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError("a layer argument is not a plain value")


def _decode(torch, value, values):
    """A node's argument from the file: plain values, lists, slices, dtypes, earlier nodes."""
    if not isinstance(value, dict):
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise ValueError("a malformed graph argument")
    if "node" in value:
        name = str(value["node"])
        if name not in values:
            raise ValueError("a graph node refers to one not computed before it")
        return values[name]
    if "list" in value:
        return [_decode(torch, item, values) for item in list(value["list"])]
    if "dict" in value:
        return {str(key): _decode(torch, item, values) for key, item in dict(value["dict"]).items()}
    if "slice" in value:
        return slice(*(_decode(torch, item, values) for item in list(value["slice"])[:3]))
    if "ellipsis" in value:
        return Ellipsis
    if "dtype" in value:
        if value["dtype"] not in DTYPES:
            raise ValueError("an unknown dtype")
        return getattr(torch, value["dtype"])
    raise ValueError("a malformed graph argument")


def _shape(value):
    if isinstance(value, list) and 0 < len(value) <= 6 and all(isinstance(v, int) and 0 < v < 1 << 20 for v in value):
        return tuple(value)
    return None


def shape_size(shape):
    total = 1
    for size in shape:
        total *= int(size)
    return total
