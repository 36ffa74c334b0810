"""What the code says it does, read from its syntax tree without running it.

The fallback for code that failed or never ran: which variables hold a model with which
layers, and which of them are fit, evaluated or used to predict. It proves only that the code
was written; whether it ran comes from the kernel's facts or, unverified, from saved outputs.

Code is read where students put it: code cells, raw cells and markdown cells (fenced or not;
those never run). Keras calls (``fit``, ``evaluate``, ``predict``, and a ``fit`` given
``validation_data``, which evaluates on it every epoch) and PyTorch loops count: a
loop that calls ``loss.backward()`` and ``optimizer.step()`` trains the models it calls, and
calls under ``torch.no_grad()`` / ``torch.inference_mode()`` or after ``model.eval()`` evaluate
them, written at the top level or in a function the notebook calls with the model.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from grader.execute.outputs import output_text, saved_text
from grader.extract.cells import python_source, read_cell, source_of
from grader.models import StaticCall, StaticFacts, StaticModel

_MODEL_BUILDERS = {"Sequential", "Model", "Module", "ModuleList"}
# A training log: Keras' "Epoch 3/10" and progress bar, a PyTorch loop's "Epoch [3/10]", a printed loss.
_TRAINING_OUTPUT = re.compile(r"Epoch:? ?\[?\d+ ?/ ?\d+\]?|\d+/\d+ \[[=>.\s]*\]|\bloss[:=]\s*\d", re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*(?:python3?|py|ipython3?)?[^\n`]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_NO_GRAD = {"no_grad", "inference_mode"}
_ARGUMENT_CHARS = 80


@dataclass(frozen=True)
class _Routine:
    """A function that trains or evaluates the model it is given (``def train(model, loader)``)."""

    method: str
    parameter: int | None  # the position of the model among its arguments; None: a global model
    model: str  # the parameter's (or the global's) name
    data: str  # the data its loop uses, as written inside it (a parameter's name is bound at the call)
    parameters: tuple[str, ...] = ()


@dataclass
class _Scan:
    builders: dict[str, "_Builder"] = field(default_factory=dict)
    layer_lists: dict[str, tuple[list[str], list[float | None]]] = field(default_factory=dict)
    models: dict[str, StaticModel] = field(default_factory=dict)
    calls: list[StaticCall] = field(default_factory=list)
    routines: dict[str, list[_Routine]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Source:
    cell: int
    code: str
    cell_type: str
    shows_training: bool


def static_facts(notebook) -> StaticFacts:
    scan = _Scan()
    for source in _sources(notebook):
        tree = _parse(source.code)
        if tree is None:
            continue
        _collect_builders(tree, scan)
        _collect_models(tree, source.cell, scan)
        _collect_routines(tree, scan)
        _collect_calls(tree, source, scan)
    return StaticFacts(tuple(scan.models.values()), tuple(scan.calls))


def _sources(notebook):
    """The code of each cell: code cells as they are, and code written in raw or markdown cells."""
    for index, cell in enumerate(notebook.get("cells", [])):
        kind = cell.get("cell_type")
        if kind == "code":
            read = read_cell(index, cell)
            if read.kind == "code":
                shown = output_text(cell.get("outputs")) + "\n" + saved_text(cell)
                yield _Source(index, read.code, "code", bool(_TRAINING_OUTPUT.search(shown)))
        elif kind in ("raw", "markdown"):
            for block in code_in_text(source_of(cell)):
                yield _Source(index, block, kind, False)


def code_in_text(text: str) -> list[str]:
    """Python written in prose: fenced blocks, else the whole text or its paragraphs when they parse
    as code that calls something (so a sentence that happens to parse is not code)."""
    fenced = _FENCE.findall(text)
    if fenced:
        return [block for block in fenced if _is_code(block)]
    text = text.replace("\\_", "_").replace("\\*", "*")
    if _is_code(text):
        return [text]
    return [block for block in re.split(r"\n\s*\n", text) if _is_code(block)]


def _is_code(text: str) -> bool:
    tree = _parse(text)
    if tree is None or not tree.body:
        return False
    statements = [
        node for node in tree.body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    ]
    return bool(statements) and any(isinstance(node, ast.Call) for node in ast.walk(tree))


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(python_source(source))
    except (SyntaxError, ValueError):
        return None


def _layers_in(node: ast.AST, parameters: tuple[str, ...] = ()) -> tuple[list[str], list[float | str | None]]:
    """Layer constructor calls under a node, with the dropout rate when it is a literal (or the name
    of one of ``parameters`` when the rate is that parameter, bound when the builder is called)."""
    layers, rates = [], []
    for call, name in _layer_calls(node):
        layers.append(name)
        rates.append(_rate(call, parameters) if "ropout" in name else None)
    return layers, rates


def _layer_calls(node: ast.AST):
    """(call, layer class) of each layer constructor under a node, in the order they are written."""
    calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
    for call in sorted(calls, key=lambda c: (getattr(c, "lineno", 0), getattr(c, "col_offset", 0))):
        name = _called_name(call.func)
        if name == "dropout":  # torch.nn.functional.dropout inside forward()
            yield call, "Dropout"
        elif name[:1].isupper() and name not in _MODEL_BUILDERS:
            yield call, name


def _switched_layers(node: ast.AST, parameters: tuple[str, ...]) -> tuple[tuple[str, bool] | None, ...]:
    """For each layer call under a builder (as ``_layers_in`` lists them), the flag parameter and the
    value it needs when the layer is built only under ``if use_bn:`` / ``if self.use_bn:``, or in one
    branch of ``Dropout(0.5) if use_dropout else Dropout(0.0)`` (else None)."""
    needs: dict[int, tuple[str, bool]] = {}
    for branch in ast.walk(node):
        flag = _flag_test(branch.test, parameters) if isinstance(branch, (ast.If, ast.IfExp)) else None
        if flag is None:
            continue
        body, orelse = (branch.body, branch.orelse) if isinstance(branch, ast.If) else ([branch.body], [branch.orelse])
        for statements, value in ((body, flag[1]), (orelse, not flag[1])):
            for call in (c for statement in statements for c in ast.walk(statement) if isinstance(c, ast.Call)):
                needs.setdefault(id(call), (flag[0], value))
    return tuple(needs.get(id(call)) for call, _ in _layer_calls(node))


def _flag_test(test: ast.AST, parameters: tuple[str, ...]) -> tuple[str, bool] | None:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _flag_test(test.operand, parameters)
        return (inner[0], not inner[1]) if inner else None
    name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else None
    return (name, True) if name in parameters else None


def _rate(call: ast.Call, parameters: tuple[str, ...] = ()) -> float | str | None:
    candidates = list(call.args[:1]) + [k.value for k in call.keywords if k.arg in ("rate", "p")]
    for value in candidates:
        if isinstance(value, ast.Constant) and isinstance(value.value, (int, float)):
            return float(value.value)
        if isinstance(value, ast.Name) and value.id in parameters:
            return value.id
    return None


def _called_name(func: ast.AST) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


@dataclass(frozen=True)
class _Builder:
    """A function or class that builds a model; a dropout rate may be one of its parameters."""

    layers: tuple[str, ...]
    rates: tuple[float | str | None, ...]
    parameters: tuple[str, ...]
    defaults: dict
    switches: tuple[tuple[str, bool] | None, ...] = ()  # a layer built only when a flag parameter is set
    flag_defaults: dict = field(default_factory=dict)
    uses: tuple[tuple[str, str], ...] = ()  # (method, data) of the fit/evaluate/predict it calls on what it builds

    def build(self, call: ast.Call) -> tuple[list[str], list[float | None]]:
        """The layers and literal rates of the model ``call`` builds (without the layers its flag
        arguments switch off: ``Net(use_bn=False)``)."""
        bound = dict(self.defaults)
        bound.update({name: _literal(value) for name, value in zip(self.parameters, call.args)})
        bound.update({k.arg: _literal(k.value) for k in call.keywords if k.arg})
        flags = dict(self.flag_defaults)
        flags.update({name: _flag_literal(value) for name, value in zip(self.parameters, call.args)})
        flags.update({k.arg: _flag_literal(k.value) for k in call.keywords if k.arg})
        kept = [
            (layer, bound.get(rate) if isinstance(rate, str) else rate)
            for layer, rate, switch in zip(self.layers, self.rates, self.switches or (None,) * len(self.layers))
            if switch is None or flags.get(switch[0]) in (None, switch[1])
        ]
        return [layer for layer, _ in kept], [rate for _, rate in kept]


def _flag_literal(node: ast.AST) -> bool | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, bool) else None


def _literal(node: ast.AST) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    return None


def _signature(node: ast.FunctionDef | ast.ClassDef) -> tuple[tuple[str, ...], dict]:
    """The parameters (without self) and their literal defaults of a function or a class's __init__."""
    if isinstance(node, ast.ClassDef):
        node = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
        if node is None:
            return (), {}
    names = [a.arg for a in node.args.args]
    defaults = dict(zip(names[len(names) - len(node.args.defaults) :], map(_literal, node.args.defaults)))
    names = [name for name in names if name != "self"]
    return tuple(names), {k: v for k, v in defaults.items() if v is not None}


def _flag_defaults(node: ast.FunctionDef | ast.ClassDef) -> dict:
    """The True/False defaults of a function's or a class __init__'s parameters (``use_bn=False``)."""
    if isinstance(node, ast.ClassDef):
        node = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
        if node is None:
            return {}
    names = [a.arg for a in node.args.args]
    pairs = zip(names[len(names) - len(node.args.defaults) :], map(_flag_literal, node.args.defaults))
    return {name: value for name, value in pairs if value is not None}


def _collect_builders(tree: ast.Module, scan: _Scan) -> None:
    """Functions and classes that build a model: ``def build(): return Sequential([...])``."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            parameters, defaults = _signature(node)
            layers, rates = _layers_in(node, parameters)
            builds = any(
                isinstance(n, ast.Call) and _called_name(n.func) in _MODEL_BUILDERS for n in ast.walk(node)
            ) or isinstance(node, ast.ClassDef)
            if layers and builds:
                scan.builders[node.name] = _Builder(
                    tuple(layers),
                    tuple(rates),
                    parameters,
                    defaults,
                    _switched_layers(node, parameters),
                    _flag_defaults(node),
                    _own_uses(node),
                )


def _own_uses(node: ast.FunctionDef | ast.ClassDef) -> tuple[tuple[str, str], ...]:
    """The Keras calls a builder makes on the model it builds (``model = Sequential(...)`` then
    ``model.fit(...)`` inside it): whoever is assigned its result was trained (and evaluated) so."""
    if isinstance(node, ast.ClassDef):
        return ()
    built = {
        target.id
        for statement in ast.walk(node)
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call)
        and _called_name(statement.value.func) in _MODEL_BUILDERS
        for target in statement.targets
        if isinstance(target, ast.Name)
    }  # fmt: skip
    return tuple((method, argument) for method, variable, argument in _keras_uses(node) if variable in built)


def _keras_uses(node: ast.AST):
    """(method, the model's name, the data) of each ``model.fit/evaluate/predict(...)`` under ``node``,
    and a ``validate`` for a fit given ``validation_data`` (Keras evaluates on it every epoch)."""
    for call in ast.walk(node):
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
        ):
            continue
        variable = call.func.value.id
        if call.func.attr in ("fit", "evaluate", "predict"):
            yield call.func.attr, variable, _unparse(call.args[0]) if call.args else ""
        validation = _validation_data(call) if call.func.attr == "fit" else None
        if validation is not None:
            yield "validate", variable, validation


def _assignments(node: ast.Assign):
    """(target, value) pairs of an assignment, unpacking ``a, b = f(), g()``."""
    for target in node.targets:
        if (
            isinstance(target, ast.Tuple)
            and isinstance(node.value, ast.Tuple)
            and len(target.elts) == len(node.value.elts)
        ):
            yield from zip(target.elts, node.value.elts)
        else:
            yield target, node.value


def _collect_models(tree: ast.Module, cell: int, scan: _Scan) -> None:
    switched = _inside_switched_builders(tree, scan)
    for node in ast.walk(tree):
        if id(node) in switched:
            continue
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.List, ast.Tuple)):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    scan.layer_lists[target.id] = _layers_in(node.value)
        if isinstance(node, ast.Assign):
            for target, value in _assignments(node):
                built = _built(value, scan)
                if built is not None and isinstance(target, ast.Name):
                    layers, rates = built
                    scan.models[target.id] = StaticModel(target.id, cell, tuple(layers), tuple(rates))
        elif isinstance(node, ast.Call) and _called_name(node.func) == "add" and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id in scan.models:
                added, rates = _layers_in(node)
                model = scan.models[owner.id]
                scan.models[owner.id] = StaticModel(
                    model.variable, model.cell, model.layers + tuple(added), model.rates + tuple(rates)
                )


def _inside_switched_builders(tree: ast.Module, scan: _Scan) -> set[int]:
    """The nodes inside a builder whose layers a flag parameter switches: the model it assigns there
    has both branches' layers (``Dropout(0.5) if use_dropout else Dropout(0.0)``); the models are
    what each call of it builds."""
    inside = set()
    for node in ast.walk(tree):
        builder = scan.builders.get(node.name) if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else None
        if builder is not None and any(builder.switches):
            inside.update(id(n) for n in ast.walk(node) if n is not node)
    return inside


def _built(value: ast.AST, scan: _Scan) -> tuple[list[str], list[float | None]] | None:
    """The layers of the model an expression builds, or None when it builds none."""
    if not isinstance(value, ast.Call):
        return None
    called = _called_name(value.func)
    if called in _MODEL_BUILDERS:
        layers, rates = _layers_in(value)
        for argument in value.args:
            if isinstance(argument, ast.Name) and argument.id in scan.layer_lists:
                listed, listed_rates = scan.layer_lists[argument.id]
                layers, rates = layers + listed, rates + listed_rates
        return layers, rates
    if called in scan.builders:
        return scan.builders[called].build(value)
    return None


def _collect_routines(tree: ast.Module, scan: _Scan) -> None:
    """Functions with a PyTorch training or evaluation loop, and which argument is the model."""
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        parameters = [argument.arg for argument in node.args.args]
        routines = []
        for method, model, data in _torch_uses(node):
            position = parameters.index(model) if model in parameters else None
            if position is not None or model in scan.models:
                routines.append(_Routine(method, position, model, data, tuple(parameters)))
        if routines:
            scan.routines[node.name] = routines


def _collect_calls(tree: ast.Module, source: _Source, scan: _Scan) -> None:
    def add(method: str, variable: str, argument: str) -> None:
        scan.calls.append(StaticCall(method, variable, source.cell, source.shows_training and method == "fit",
                                     argument[:_ARGUMENT_CHARS], source.cell_type))  # fmt: skip

    for method, variable, argument in _keras_uses(tree):
        add(method, variable, argument)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target, value in _assignments(node):
                builder = scan.builders.get(_called_name(value.func)) if isinstance(value, ast.Call) else None
                if builder is not None and isinstance(target, ast.Name):
                    for method, argument in builder.uses:
                        add(method, target.id, argument)
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id in scan.routines:
            for routine in scan.routines[node.func.id]:
                data = _bound_data(routine, node)
                if routine.parameter is None:
                    add(routine.method, routine.model, data)
                elif routine.parameter < len(node.args) and isinstance(node.args[routine.parameter], ast.Name):
                    add(routine.method, node.args[routine.parameter].id, data)
    for method, model, argument in _torch_uses(_top_level(tree)):
        if model in scan.models:
            add(method, model, argument)


def _validation_data(call: ast.Call) -> str | None:
    """The inputs a Keras ``fit(..., validation_data=(x, y))`` evaluates the model on after every
    epoch (as it runs, Keras calls ``evaluate`` on them): ``x`` as written, or the whole dataset."""
    value = next((k.value for k in call.keywords if k.arg == "validation_data"), None)
    if value is None or (isinstance(value, ast.Constant) and value.value is None):
        return None
    if isinstance(value, (ast.Tuple, ast.List)) and value.elts:
        value = value.elts[0]
    return _unparse(value)


def _bound_data(routine: _Routine, call: ast.Call) -> str:
    """The data a routine's loop uses at this call: an argument when the loop uses a parameter."""
    if routine.data in routine.parameters:
        position = routine.parameters.index(routine.data)
        if position < len(call.args):
            return _unparse(call.args[position])
        keyword = next((k.value for k in call.keywords if k.arg == routine.data), None)
        return _unparse(keyword) if keyword is not None else ""
    return routine.data


def _top_level(tree: ast.Module) -> ast.Module:
    """The module without its function and class bodies (those run only when called)."""
    kept = [node for node in tree.body if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    return ast.Module(body=kept, type_ignores=[])


def _torch_uses(node: ast.AST) -> list[tuple[str, str, str]]:
    """(fit or evaluate, the model's name, the data) for each model a PyTorch loop under ``node``
    trains (a loop calling ``.backward()`` and ``.step()``) or evaluates (under ``no_grad`` or
    after ``model.eval()``)."""
    uses = []
    for loop in (n for n in ast.walk(node) if isinstance(n, (ast.For, ast.While))):
        calls = [n for n in ast.walk(loop) if isinstance(n, ast.Call)]
        methods = {n.func.attr for n in calls if isinstance(n.func, ast.Attribute)}
        if "backward" in methods and "step" in methods:
            data = _unparse(loop.iter) if isinstance(loop, ast.For) else ""
            uses += [("fit", name, data) for name, _ in _called_models(calls)]
    evaluated = {n.func.value.id for n in ast.walk(node) if _is_method_call(n, "eval")}
    for block in (n for n in ast.walk(node) if isinstance(n, ast.With) and _is_no_grad(n)):
        for name, argument in _called_models([n for n in ast.walk(block) if isinstance(n, ast.Call)]):
            uses.append(("evaluate", name, _loop_data(block) or argument))
    for name in evaluated - {name for _, name, _ in uses}:
        for called, argument in _called_models([n for n in ast.walk(node) if isinstance(n, ast.Call)]):
            if called == name:
                uses.append(("evaluate", name, argument))
                break
    # Nested loops (epochs over batches) are one use; the innermost loop names the data.
    return list({(method, name): (method, name, data) for method, name, data in uses}.values())


def _called_models(calls: list[ast.Call]) -> list[tuple[str, str]]:
    """(name, first argument) of each plain name called like a model: ``model(x)``."""
    return [
        (c.func.id, _unparse(c.args[0]) if c.args else "")
        for c in calls
        if isinstance(c.func, ast.Name) and c.func.id[:1].islower()
    ]


def _is_method_call(node: ast.AST, method: str) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr == method and isinstance(node.func.value, ast.Name)
    )  # fmt: skip


def _is_no_grad(block: ast.With) -> bool:
    return any(
        isinstance(item.context_expr, ast.Call) and _called_name(item.context_expr.func) in _NO_GRAD
        for item in block.items
    )


def _loop_data(block: ast.With) -> str:
    loop = next((n for n in ast.walk(block) if isinstance(n, ast.For)), None)
    return _unparse(loop.iter) if loop is not None else ""


def _unparse(node: ast.AST) -> str:
    try:
        return ast.unparse(node)[:_ARGUMENT_CHARS]
    except (ValueError, TypeError, RecursionError):
        return ""
