"""What a notebook cell reads and binds, read from its source with ``ast``.

The grader uses it after a cell hits the time limit: the names that cell would have
defined are missing, so the later cells that read them are not run (and not blamed
on the learner). IPython syntax (``%magic``, ``!cmd``) is read as IPython runs it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

# Cell magics that run their body as Python code in the notebook's namespace.
_PYTHON_CELL_MAGICS = ("time", "capture", "timeit", "prun")
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_SCOPES = (*_FUNCTIONS, ast.ClassDef, *_COMPREHENSIONS)


@dataclass(frozen=True)
class CellNames:
    """The notebook-level names one code cell uses, as far as its source tells.

    reads: the names it reads before binding them itself, in order (builtins such as
        ``print`` included). What a function body reads counts at the end of the
        cell, when the function may be called, unless the cell binds it.
    binds: the names it binds: assignments, ``for``/``with``/``except``/``match``
        targets, imports, ``def``, ``class``, and the ``global`` names a function assigns.
    complete: False when it may bind names its source does not show
        (``from m import *``, ``%run``, ``%store -r``).
    statements: for each top-level statement, (its last line, the names it binds that
        stay valid once it has finished: those of an import, ``def`` or ``class``; the
        other names it binds).
    """

    reads: tuple[str, ...]
    binds: frozenset[str]
    complete: bool = True
    statements: tuple[tuple[int, frozenset[str], frozenset[str]], ...] = ()

    def unfinished(self, line: int | None) -> frozenset[str]:
        """What the cell leaves missing or half-computed when interrupted at ``line``.

        The imports, functions and classes of the statements that had finished before
        ``line`` stand; every other name the cell binds is suspect: the statement that
        was interrupted, and any before it, may have been building its value. Without
        a line (or statements), every name the cell binds.
        """
        if line is None or not self.statements:
            return self.binds
        names: set[str] = set()
        for end, durable, other in self.statements:
            names |= other | (durable if end >= line else frozenset())
        return frozenset(names)


def cell_names(source: str) -> CellNames | None:
    """What a code cell reads and binds (see :class:`CellNames`).

    IPython syntax (``%magic``, ``!cmd``) is read as IPython runs it; the body of a
    ``%%time`` (``%%capture``, ``%%timeit``, ``%%prun``) cell as Python. None when the
    source cannot tell: a syntax error, another cell magic.
    """
    text = source.lstrip()
    if text.startswith("%%"):
        first, _, body = text.partition("\n")
        magic, *args = first[2:].split() or [""]
        inner = cell_names(body) if magic in _PYTHON_CELL_MAGICS else None
        if inner is None:
            return None
        output = {a for a in args if not a.startswith("-")} if magic == "capture" else set()
        return CellNames(inner.reads, inner.binds | output, inner.complete)
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        tree = ast.parse(TransformerManager().transform_cell(source))
    except Exception:  # a SyntaxError, or IPython syntax the transformer refuses
        return None
    flow = _ModuleFlow()
    statements = []
    for statement in tree.body:
        flow.statement = set()
        flow.visit(statement)
        names = frozenset(flow.statement)
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            durable = names
        elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            durable = names & {statement.name}
        else:
            durable = frozenset()
        statements.append((statement.end_lineno or statement.lineno, durable, names - durable))
    reads = dict(flow.reads)
    for name in flow.deferred:
        if name not in flow.binds:
            reads.setdefault(name, None)
    return CellNames(tuple(reads), frozenset(flow.binds), flow.complete, tuple(statements))


class _ModuleFlow(ast.NodeVisitor):
    """Walks a cell's top level in the order it runs: what it reads before binding it."""

    def __init__(self) -> None:
        self.bound: set[str] = set()  # bound so far
        self.binds: set[str] = set()  # bound anywhere
        self.statement: set[str] = set()  # bound by the current top-level statement
        self.reads: dict[str, None] = {}  # an ordered set
        self.deferred: dict[str, None] = {}  # read by function bodies
        self.complete = True

    def _read(self, name: str) -> None:
        if name not in self.bound:
            self.reads.setdefault(name, None)

    def _bind(self, name: str) -> None:
        self.bound.add(name)
        self.binds.add(name)
        self.statement.add(name)

    def _visit_all(self, nodes) -> None:
        for node in nodes:
            if node is not None:
                self.visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self._bind(node.id)
            return
        self._read(node.id)
        if isinstance(node.ctx, ast.Del):
            self.bound.discard(node.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self._visit_all([node.value, *node.targets])

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self._read(node.target.id)
        self._visit_all([node.value, node.target])

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._visit_all([node.value, node.annotation])
        if node.value is not None or not isinstance(node.target, ast.Name):
            self.visit(node.target)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self._visit_all([node.iter, node.target, *node.body, *node.orelse])

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self._visit_all([item.context_expr, item.optional_vars])
        self._visit_all(node.body)

    visit_AsyncWith = visit_With

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        self._visit_all([node.type])
        if node.name:
            self._bind(node.name)
        self._visit_all(node.body)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self._visit_all([node.value, node.target])

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.complete = False
            else:
                self._bind(alias.asname or alias.name.partition(".")[0])

    visit_ImportFrom = visit_Import

    def visit_MatchAs(self, node: ast.MatchAs | ast.MatchStar) -> None:
        self.generic_visit(node)
        if node.name:
            self._bind(node.name)

    visit_MatchStar = visit_MatchAs

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self._bind(node.rest)

    def visit_Call(self, node: ast.Call) -> None:
        func, args = node.func, node.args
        if (isinstance(func, ast.Attribute) and func.attr == "run_line_magic" and args
                and isinstance(args[0], ast.Constant) and args[0].value in ("run", "store")):
            self.complete = False  # %run script.py, %store -r: names the cell does not show
        self.generic_visit(node)

    def _scope(self, node: ast.AST, *, deferred: bool) -> None:
        self._visit_all(_outer_parts(node))
        reads, binds = _scope_globals(node, frozenset())
        for name in binds:  # a function's `global` names are bound only once it is called
            if deferred:
                self.binds.add(name)
                self.statement.add(name)
            else:
                self._bind(name)
        for name in reads:
            if deferred:
                self.deferred.setdefault(name, None)
            else:
                self._read(name)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._scope(node, deferred=True)
        self._bind(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._scope(node, deferred=True)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scope(node, deferred=False)
        self._bind(node.name)

    def visit_ListComp(self, node: ast.AST) -> None:
        self._scope(node, deferred=False)

    visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_ListComp


def _outer_parts(node: ast.AST) -> list[ast.AST]:
    """The parts of a function, lambda, class or comprehension evaluated where it stands."""
    if isinstance(node, ast.ClassDef):
        return [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]
    if isinstance(node, _COMPREHENSIONS):
        return [node.generators[0].iter]
    args = node.args
    parts = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
    if not isinstance(node, ast.Lambda):
        every = [*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg]
        parts += [*node.decorator_list, *(a.annotation for a in every if a and a.annotation)]
        parts += [node.returns] if node.returns else []
    return parts


def _inner_parts(node: ast.AST) -> list[ast.AST]:
    """The parts of a function, lambda, class or comprehension that run in its own scope."""
    if isinstance(node, ast.ClassDef):
        return node.body
    if isinstance(node, _COMPREHENSIONS):
        first, *rest = node.generators
        parts = [first.target, *first.ifs]
        for generator in rest:
            parts += [generator.iter, generator.target, *generator.ifs]
        return parts + ([node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt])
    return node.body if isinstance(node.body, list) else [node.body]


def _walk_scope(nodes: list[ast.AST]):
    """Every node of one scope, in source order; of a nested scope only its outer parts."""
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        yield node
        children = _outer_parts(node) if isinstance(node, _SCOPES) else ast.iter_child_nodes(node)
        stack.extend(reversed(list(children)))


def _scope_globals(node: ast.AST, enclosing: frozenset[str]) -> tuple[dict[str, None], set[str]]:
    """(notebook-level names read, names bound) inside a function, lambda, class or comprehension.

    enclosing: the local names of the functions around it (its free names refer to them).
    """
    nodes = list(_walk_scope(_inner_parts(node)))
    assigned: set[str] = set()
    declared: set[str] = set()  # global
    nonlocal_: set[str] = set()
    walrus: set[str] = set()  # := in a comprehension binds in the scope around it
    if isinstance(node, _FUNCTIONS):
        a = node.args
        every = (*a.posonlyargs, *a.args, a.vararg, *a.kwonlyargs, a.kwarg)
        assigned |= {arg.arg for arg in every if arg}
    for n in nodes:
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
            assigned.add(n.id)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            assigned |= {a.asname or a.name.partition(".")[0] for a in n.names if a.name != "*"}
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            assigned.add(n.name)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            assigned.add(n.name)
        elif isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name:
            assigned.add(n.name)
        elif isinstance(n, ast.MatchMapping) and n.rest:
            assigned.add(n.rest)
        elif isinstance(n, ast.Global):
            declared.update(n.names)
        elif isinstance(n, ast.Nonlocal):
            nonlocal_.update(n.names)
        elif isinstance(n, ast.NamedExpr) and isinstance(node, _COMPREHENSIONS):
            walrus.add(n.target.id)
    local = assigned - declared - nonlocal_ - walrus
    visible = local | enclosing | nonlocal_
    inner_enclosing = enclosing if isinstance(node, ast.ClassDef) else enclosing | local
    reads: dict[str, None] = {}
    binds = (assigned & declared) | walrus
    for n in nodes:
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store):
            if n.id in declared or n.id not in visible:
                reads.setdefault(n.id, None)
        elif isinstance(n, _SCOPES):
            inner_reads, inner_binds = _scope_globals(n, frozenset(inner_enclosing))
            reads.update(inner_reads)
            binds |= inner_binds
    return reads, binds
