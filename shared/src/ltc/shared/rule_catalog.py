"""Which named rules an operation can answer with, read from the code that raises them.

The OpenAPI documents list, for every operation, the rule names it may answer (`x-rules` and
an enum of problem types per status). Written by hand, that list would drift from the code; so
it is derived here: every `raise DomainError/RuleViolation/Forbidden/StaleVersion(<rule>, ...)`
and `ProblemError(<status>, <type>, ...)` in a service's package and in the shared rules is found
with `ast`, and an operation gets the rules of every function its route reaches, by name,
transitively. A rule given as a parameter (`_require_status(status, rule, doing)`) or built from
one (`f"{subject}-cannot-escalate"`) is resolved at each call site that passes a literal or a
module constant.

Reaching "by name" over-approximates (two methods called `update` are both followed): the
documents may list a rule an operation cannot meet in practice, never leave out one it can.
The integration suite checks the other direction: every rule it sees answered is documented.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType

from ltc.shared.rules import Kind

_KIND_OF_CLASS = {"DomainError": Kind.CONFLICT, "RuleViolation": Kind.RULE_UNMET, "Forbidden": Kind.FORBIDDEN,
                  "StaleVersion": Kind.STALE}
_STATUS_OF_KIND = {Kind.CONFLICT: 409, Kind.RULE_UNMET: 422, Kind.FORBIDDEN: 403, Kind.STALE: 412}

# A rule name as the code builds it: literal parts and parameters of the enclosing function.
Template = tuple[str | tuple[str], ...]


@dataclass
class _Function:
    name: str
    params: list[str]
    raises: list[tuple[int, frozenset[Template]]] = field(default_factory=list)  # (status, rule templates)
    calls: list[ast.Call] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # the names it passes as values to a call
    constants: Mapping[str, str] = field(default_factory=dict)  # the string constants it can name
    node_id: int = 0


def _templates(expr: ast.expr, params: list[str], constants: Mapping[str, str]) -> frozenset[Template]:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return frozenset({(expr.value,)})
    if isinstance(expr, ast.Name):
        if expr.id in constants:
            return frozenset({(constants[expr.id],)})
        if expr.id in params:
            return frozenset({((expr.id,),)})
    if isinstance(expr, ast.IfExp):
        return _templates(expr.body, params, constants) | _templates(expr.orelse, params, constants)
    if isinstance(expr, ast.JoinedStr):
        parts: list[frozenset[Template]] = []
        for value in expr.values:
            if isinstance(value, ast.Constant):
                parts.append(frozenset({(str(value.value),)}))
            elif isinstance(value, ast.FormattedValue):
                parts.append(_templates(value.value, params, constants))
            if not parts[-1]:
                return frozenset()
        combined: set[Template] = {()}
        for options in parts:
            combined = {left + right for left in combined for right in options}
        return frozenset(combined)
    return frozenset()


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _module_constants(tree: ast.Module) -> dict[str, str]:
    constants: dict[str, str] = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        value = getattr(node, "value", None)
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            for target in targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = value.value
    return constants


def _functions_of(tree: ast.Module, constants: Mapping[str, str]) -> Iterable[_Function]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        args = node.args
        params = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
        function = _Function(node.name, params, constants=constants, node_id=id(node))
        for inner in ast.walk(node):
            if isinstance(inner, ast.Call):
                function.calls.append(inner)
                status_and_rule = _raised(inner, params, constants)
                if status_and_rule is not None:
                    function.raises.append(status_and_rule)
                # A function or class passed as a value (`run(uow, handlers.grade_lead, ...)`,
                # `Once(..., repository.get_lead)`) runs later: it is reached too.
                for argument in (*inner.args, *(k.value for k in inner.keywords)):
                    if isinstance(argument, ast.Name):
                        function.names.add(argument.id)
                    elif isinstance(argument, ast.Attribute):
                        function.names.add(argument.attr)
        yield function


def _raised(call: ast.Call, params: list[str], constants: Mapping[str, str]) -> tuple[int, frozenset[Template]] | None:
    name = _callee(call)
    if name in _KIND_OF_CLASS and call.args:
        return _STATUS_OF_KIND[_KIND_OF_CLASS[name]], _templates(call.args[0], params, constants)
    if name == "NotFound":
        return 404, frozenset({("not-found",)})
    if name == "ProblemError" and len(call.args) >= 2 and isinstance(call.args[0], ast.Constant):
        return int(call.args[0].value), _templates(call.args[1], params, constants)
    return None


class RuleCatalog:
    """The functions of some modules, and the rules each can end in."""

    def __init__(self, files: Iterable[Path]) -> None:
        self._by_name: dict[str, list[_Function]] = {}
        self._classes: dict[str, list[_Function]] = {}
        self._methods: dict[tuple[str, str], list[_Function]] = {}
        trees = [ast.parse(path.read_text(), filename=str(path)) for path in files]
        # A rule constant is often imported from the module that names it (`REVIEWER_IS_AUTHOR`).
        self.constants: dict[str, str] = {}
        for tree in trees:
            self.constants.update(_module_constants(tree))
        for tree in trees:
            for function in _functions_of(tree, ChainMap(_module_constants(tree), self.constants)):
                self._by_name.setdefault(function.name, []).append(function)
            # Calling a class (building a command, an aggregate, a policy) runs its construction;
            # `Class.method(...)` is that class's method, not every method of that name.
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    members = {id(n) for n in node.body}
                    methods = [f for fs in self._by_name.values() for f in fs if f.node_id in members]
                    self._classes[node.name] = [f for f in methods if f.name in ("__init__", "__post_init__")]
                    for method in methods:
                        self._methods.setdefault((node.name, method.name), []).append(method)

    def rules_reached(self, source: str, *, constants: dict[str, str] | None = None) -> dict[int, set[str]]:
        """Status → rule names that code `source` (a route's body) can end in."""
        tree = ast.parse(textwrap.dedent(source))
        entry = next(_functions_of(tree, ChainMap(constants or {}, self.constants)), None)
        if entry is None:
            return {}
        found: dict[int, set[str]] = {}
        seen: set[tuple[int, tuple[tuple[str, str], ...]]] = set()
        self._walk(entry, {}, found, seen)
        return found

    def _walk(self, function: _Function, bound: dict[str, frozenset[str]], found: dict[int, set[str]],
              seen: set[tuple[int, tuple[tuple[str, str], ...]]]) -> None:
        key = (id(function), tuple(sorted((k, ",".join(sorted(v))) for k, v in bound.items())))
        if key in seen:
            return
        seen.add(key)
        for status, templates in function.raises:
            for template in templates:
                found.setdefault(status, set()).update(_fill(template, bound))
        for name in function.names:
            # A class passed as a value (`select(Contract)`) is not built: only a call builds it.
            for target in self._by_name.get(name, ()):
                if target is not function:
                    self._walk(target, {}, found, seen)
        for call in function.calls:
            for target in self._targets(call):
                self._walk(target, _bind(call, target, function, bound), found, seen)


    def _targets(self, call: ast.Call) -> list[_Function]:
        callee = _callee(call)
        if callee is None:
            return []
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in self._classes:
            own = self._methods.get((func.value.id, callee))
            if own:
                return own
        if callee.startswith("__"):  # super().__init__() and friends: the class's own, reached by its call
            return []
        return [*self._by_name.get(callee, ()), *self._classes.get(callee, ())]


def _bind(call: ast.Call, target: _Function, caller: _Function, bound: dict[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """The string values a call passes to the target's parameters (for rules given as parameters)."""
    params = [p for p in target.params if p not in ("self", "cls")]
    values: dict[str, frozenset[str]] = {}
    pairs = list(zip(params, call.args, strict=False)) + [(k.arg, k.value) for k in call.keywords if k.arg]
    for param, expr in pairs:
        options = set()
        for template in _templates(expr, caller.params, caller.constants):
            options.update(_fill(template, bound))
        if options:
            values[param] = frozenset(options)
    return values


def _fill(template: Template, bound: dict[str, frozenset[str]]) -> set[str]:
    results = {""}
    for part in template:
        if isinstance(part, str):
            results = {r + part for r in results}
        else:
            options = bound.get(part[0])
            if not options:
                return set()
            results = {r + o for r in results for o in options}
    return results


def package_files(*modules: ModuleType) -> list[Path]:
    """The Python files of packages or modules, without their migrations."""
    files: list[Path] = []
    for module in modules:
        path = Path(module.__file__ or "")
        if path.name == "__init__.py":
            files.extend(p for p in path.parent.rglob("*.py") if "migrations" not in p.parts)
        else:
            files.append(path)
    return files


@cache
def catalog_for(package: str) -> RuleCatalog:
    """The catalog of a service's package with the shared modules whose rules it can meet."""
    import importlib

    from ltc.shared import controls, policy, rules, taxids

    # The plumbing's own answers (If-Match, Idempotency-Key, cursors) are documented from the
    # operation's headers and parameters instead (ltc.shared.openapi).
    return RuleCatalog(package_files(importlib.import_module(package), controls, rules, policy, taxids))


def rules_of_endpoint(endpoint: Callable[..., object]) -> dict[int, set[str]]:
    """Status → rule names the route function `endpoint` can answer with."""
    package = endpoint.__module__.split(".api")[0]
    module = inspect.getmodule(endpoint)
    constants = _module_constants(ast.parse(inspect.getsource(module))) if module else {}
    return catalog_for(package).rules_reached(inspect.getsource(endpoint), constants=constants)
