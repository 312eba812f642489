"""Synthesise example records from the variables a template uses.

The Jinja source (template and answer_choices) is parsed with jinja2's own parser; a walk of
the AST infers the shape of each example field from how it is used: indexed with an integer
or iterated (a list), indexed with a string or an attribute read (a dict), compared with a
number / used in `range` / used as an index (an int), a string method called (a string), a
list method called (a list), a dict method called (a dict). Unconstrained leaves are strings.
Several variants are produced (different ints, list lengths, strings equal to the constants
they are compared with); the harness keeps the first variant Python renders.
"""

from jinja2 import nodes

STR_METHODS = {"split", "lower", "upper", "strip", "lstrip", "rstrip", "replace", "startswith",
               "endswith", "capitalize", "title", "find", "isdigit", "isalpha", "splitlines",
               "format", "rsplit", "zfill", "casefold", "swapcase"}
LIST_METHODS = {"append", "pop", "extend", "insert", "remove", "index", "count", "sort", "reverse"}
DICT_METHODS = {"keys", "items", "values", "update", "get"}
GLOBALS = {"range", "zip", "loop", "namespace", "answer_choices", "dict", "lipsum", "cycler", "joiner"}
LIST_FILTERS = {"join", "first", "last", "choice", "random", "sort", "unique", "min", "max", "sum",
                "map", "select", "reject", "selectattr", "rejectattr", "most_frequent", "batch", "slice",
                "reverse", "groupby"}
STR_FILTERS = {"lower", "upper", "capitalize", "trim", "replace", "title", "wordcount", "truncate",
               "center", "indent", "striptags", "wordwrap"}


class Shape:
    def __init__(self):
        self.votes = set()
        self.attrs = {}
        self.elem = None
        self.consts = []
        self.seps = []

    def attr(self, k):
        self.votes.add("dict")
        if k not in self.attrs:
            self.attrs[k] = Shape()
        return self.attrs[k]

    def item(self):
        self.votes.add("list")
        if self.elem is None:
            self.elem = Shape()
        return self.elem


class Walker:
    def __init__(self):
        self.root = Shape()
        self.scopes = [{}]

    def lookup(self, name):
        for s in reversed(self.scopes):
            if name in s:
                return s[name]
        if name in GLOBALS:
            return None
        return self.root.attr(name)

    def bind(self, target, shape):
        if isinstance(target, nodes.Name):
            self.scopes[-1][target.name] = shape
        elif isinstance(target, nodes.Tuple):
            for i, t in enumerate(target.items):
                sub = shape[i] if isinstance(shape, list) and i < len(shape) else None
                self.bind(t, sub)

    def expr(self, n):
        """Returns the Shape the expression denotes when it is a path into the example."""
        if n is None:
            return None
        if isinstance(n, nodes.Name):
            return self.lookup(n.name)
        if isinstance(n, nodes.Getattr):
            base = self.expr(n.node)
            if base is None:
                return None
            return base.attr(n.attr)
        if isinstance(n, nodes.Getitem):
            base = self.expr(n.node)
            arg = n.arg
            if isinstance(arg, nodes.Slice):
                for x in (arg.start, arg.stop, arg.step):
                    self.number(x)
                return base
            if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                return base.attr(arg.value) if base else None
            if isinstance(arg, nodes.Const) and isinstance(arg.value, int):
                return base.item() if base else None
            self.number(arg)
            return base.item() if base else None
        if isinstance(n, nodes.Call):
            return self.call(n)
        if isinstance(n, nodes.Filter):
            return self.filter(n)
        if isinstance(n, nodes.Compare):
            left = self.expr(n.expr)
            prev_node, prev = n.expr, left
            for op in n.ops:
                right = self.expr(op.expr)
                if op.op in ("in", "notin"):
                    if right is not None and not right.votes & {"dict", "str"}:
                        right.votes.add("list")
                        if right.elem is None:
                            right.elem = prev if prev is not None else Shape()
                else:
                    self.compare(prev_node, prev, op.expr)
                    self.compare(op.expr, right, prev_node)
                prev_node, prev = op.expr, right
            return None
        if isinstance(n, (nodes.Add, nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.Pow)):
            l = self.expr(n.left)
            r = self.expr(n.right)
            if not isinstance(n, nodes.Add) or self.is_num(n.left) or self.is_num(n.right):
                for s in (l, r):
                    if s is not None:
                        s.votes.add("int")
            return None
        if isinstance(n, (nodes.Neg, nodes.Pos)):
            s = self.expr(n.node)
            if s is not None:
                s.votes.add("int")
            return None
        if isinstance(n, nodes.CondExpr):
            self.expr(n.test)
            self.expr(n.expr1)
            self.expr(n.expr2)
            return None
        if isinstance(n, nodes.Test):
            self.expr(n.node)
            for a in n.args:
                self.expr(a)
            return None
        for child in n.iter_child_nodes():
            self.expr(child)
        return None

    def is_num(self, n):
        return isinstance(n, nodes.Const) and isinstance(n.value, (int, float)) and not isinstance(n.value, bool)

    def compare(self, node, shape, other):
        if shape is None:
            return
        if self.is_num(other):
            shape.votes.add("float" if isinstance(other.value, float) else "int")
            shape.consts.append(other.value)
        elif isinstance(other, nodes.Const) and isinstance(other.value, str):
            shape.votes.add("str")
            shape.consts.append(other.value)
        elif isinstance(other, nodes.Filter) and other.name in ("length", "int"):
            shape.votes.add("int")

    def number(self, n):
        s = self.expr(n)
        if s is not None:
            s.votes.add("int")

    def call(self, n):
        for a in n.args:
            self.expr(a)
        for k in n.kwargs:
            self.expr(k.value)
        f = n.node
        if isinstance(f, nodes.Name) and f.name == "range":
            for a in n.args:
                self.number(a)
            return None
        if isinstance(f, nodes.Name) and f.name == "zip":
            return ("zip", [self.expr(a) for a in n.args])
        if isinstance(f, nodes.Getattr) and f.attr == "index" and isinstance(f.node, nodes.List) and n.args:
            arg = self.expr(n.args[0])
            if arg is not None:
                arg.consts.extend(i.value for i in f.node.items if isinstance(i, nodes.Const))
            return None
        if isinstance(f, nodes.Getattr):
            base = self.expr(f.node)
            if base is not None:
                if f.attr in STR_METHODS:
                    base.votes.add("str")
                    if f.attr in ("split", "index", "find", "rsplit") and n.args and isinstance(n.args[0], nodes.Const) \
                            and isinstance(n.args[0].value, str):
                        base.seps.append(n.args[0].value)
                elif f.attr in LIST_METHODS:
                    base.item()
                elif f.attr in DICT_METHODS:
                    base.votes.add("dict")
                    if f.attr == "items":
                        return ("items", base)
            return None
        self.expr(f)
        return None

    def filter(self, n):
        base = self.expr(n.node)
        for a in n.args:
            self.expr(a)
        for k in n.kwargs:
            self.expr(k.value)
        if base is None or isinstance(base, tuple):
            return None
        name = n.name
        if name in LIST_FILTERS:
            el = base.item()
            if name in ("map", "selectattr", "rejectattr", "groupby"):
                attr = None
                for k in n.kwargs:
                    if k.key == "attribute" and isinstance(k.value, nodes.Const):
                        attr = k.value.value
                if name in ("selectattr", "rejectattr") and n.args and isinstance(n.args[0], nodes.Const):
                    attr = n.args[0].value
                if attr:
                    el.attr(attr)
                return None
            if name in ("first", "last", "choice", "random", "min", "max"):
                return el
            return None
        if name in STR_FILTERS:
            base.votes.add("str")
            return None
        if name in ("int", "float"):
            base.votes.add("numstr")
            return None
        if name in ("round", "abs"):
            base.votes.add("float")
            return None
        if name in ("list",):
            return base
        return None

    def stmt(self, n):
        if isinstance(n, nodes.For):
            it = self.expr(n.iter)
            self.scopes.append({})
            if isinstance(it, tuple) and it[0] == "zip":
                elems = [s.item() if s is not None else None for s in it[1]]
                self.bind(n.target, elems)
            elif isinstance(it, tuple) and it[0] == "items":
                self.bind(n.target, [None, Shape()])
            elif isinstance(it, Shape):
                if isinstance(n.target, nodes.Tuple) and not it.votes & {"list"}:
                    it.votes.add("dict")
                    self.bind(n.target, [None, None])
                else:
                    self.bind(n.target, it.item())
            else:
                self.bind(n.target, None)
            for b in n.body:
                self.stmt(b)
            self.scopes.pop()
            for b in n.else_:
                self.stmt(b)
            if n.test is not None:
                self.expr(n.test)
            return
        if isinstance(n, nodes.Assign):
            v = self.expr(n.node)
            self.bind(n.target, v if isinstance(v, Shape) and isinstance(n.target, nodes.Name) else None)
            return
        if isinstance(n, nodes.If):
            self.expr(n.test)
            for b in n.body:
                self.stmt(b)
            for e in n.elif_:
                self.stmt(e)
            for b in n.else_:
                self.stmt(b)
            return
        if isinstance(n, nodes.Output):
            for x in n.nodes:
                if not isinstance(x, nodes.TemplateData):
                    self.expr(x)
            return
        if isinstance(n, nodes.ExprStmt):
            self.expr(n.node)
            return
        if isinstance(n, nodes.Expr):
            self.expr(n)
            return
        for child in n.iter_child_nodes():
            self.stmt(child)


def infer(env, sources):
    w = Walker()
    for src in sources:
        if src is None:
            continue
        try:
            ast = env.parse(src)
        except Exception:
            continue
        for s in ast.body:
            w.stmt(s)
    return w.root


def make(shape, name, v, depth=0):
    """Value for a shape under variant v (0..)."""
    votes = shape.votes
    if depth > 6:
        return "x"
    if "dict" in votes and shape.attrs:
        return {k: make(s, k, v, depth + 1) for k, s in shape.attrs.items()}
    if "list" in votes and not ("str" in votes and v % 2 == 1):
        n = [3, 2, 4, 1, 5, 3][v % 6]
        el = shape.elem or Shape()
        out = []
        for i in range(n):
            x = make(el, name, v, depth + 1)
            if isinstance(x, str):
                if v == 6:
                    x = "ABCDE"[i % 5]
                elif v == 7:
                    x = str(i + 1)
                else:
                    x = f"{x} {i}" if v % 2 == 0 else f"{name}{i}"
            elif isinstance(x, int) and not isinstance(x, bool):
                x = x + i
            out.append(x)
        return out
    if "dict" in votes:
        return {}
    if votes & {"int", "float"}:
        ints = [c for c in shape.consts if isinstance(c, (int, float)) and not isinstance(c, bool)]
        base = [0, 1, 2, -1, 3, 1][v % 6]
        if v >= 3 and ints:
            base = ints[v % len(ints)]
        if "float" in votes and "int" not in votes:
            return float(base) + 0.5
        return base
    if "numstr" in votes:
        return ["1", "0", "2", "3", "1", "2"][v % 6]
    strs = [c for c in shape.consts if isinstance(c, str)]
    if strs and v in (1, 3, 5):
        return strs[(v // 2) % len(strs)]
    if v == 4:
        return "1"
    if v == 6:
        return "A"
    if v == 7:
        return "1"
    text = f"The {name} text, with words."
    for sep in shape.seps:
        if sep:
            text += f"{sep}part one{sep}part two"
    return text


def variants(root, count=10):
    return [make(root, "example", v) for v in range(count)]
