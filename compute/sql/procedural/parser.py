"""PL/pgSQL text -> a statement tree (the subset in docs/procedural.md).

Expressions and SQL statements stay text (they run through the SQL translator with variables as
parameters); only the procedural structure is parsed here. Anything outside the subset is
refused with 0A000 naming it, never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields, is_dataclass

from compute.sql.api import SqlError
from compute.sql.procedural.lexer import NUMBER, OP, QUOTED, STRING, WORD, Tok, lex, string_value


@dataclass
class Decl:
    name: str
    type_text: str  # "record" for a record variable; "alias" with default_expr = the aliased name
    default_expr: str | None = None
    constant: bool = False
    not_null: bool = False


@dataclass
class Stmt:
    pass


@dataclass
class Block(Stmt):
    label: str | None
    decls: list[Decl]
    body: list[Stmt]
    handlers: list[tuple[list[str], list[Stmt]]] | None = None  # ([condition, ...], body)


@dataclass
class Assign(Stmt):
    target: str  # "x" or "rec.field"
    expr: str


@dataclass
class If(Stmt):
    branches: list[tuple[str, list[Stmt]]]
    otherwise: list[Stmt] | None


@dataclass
class Case(Stmt):
    subject: str | None
    branches: list[tuple[str, list[Stmt]]]
    otherwise: list[Stmt] | None


@dataclass
class Loop(Stmt):
    label: str | None
    body: list[Stmt]
    while_cond: str | None = None


@dataclass
class ForRange(Stmt):
    label: str | None
    var: str
    low: str
    high: str
    step: str | None
    reverse: bool
    body: list[Stmt]


@dataclass
class ForQuery(Stmt):
    label: str | None
    targets: list[str]
    query: str
    dynamic: bool  # FOR ... IN EXECUTE expr [USING ...]
    using: list[str]
    body: list[Stmt]


@dataclass
class ForEach(Stmt):
    label: str | None
    target: str
    slice: int
    array: str  # the ARRAY expression
    body: list[Stmt]


@dataclass
class Assert(Stmt):
    cond: str
    message: str | None


@dataclass
class Exit(Stmt):
    is_continue: bool
    label: str | None
    cond: str | None


@dataclass
class Return(Stmt):
    expr: str | None
    kind: str = "return"  # "return" | "next" | "query"


@dataclass
class Raise(Stmt):
    level: str  # "exception" | "warning" | "notice" | "info" | "log" | "debug"
    fmt: str | None  # the format string's value
    condition: str | None  # RAISE condition_name / SQLSTATE 'xxxxx'
    args: list[str]
    options: list[tuple[str, str]]  # USING name = expr
    reraise: bool = False


@dataclass
class Sql(Stmt):
    sql: str  # the statement with any INTO clause removed
    into: list[str] = field(default_factory=list)
    strict: bool = False
    perform: bool = False


@dataclass
class Execute(Stmt):
    expr: str
    into: list[str]
    strict: bool
    using: list[str]


@dataclass
class GetDiagnostics(Stmt):
    stacked: bool
    items: list[tuple[str, str]]  # (variable, item)


@dataclass
class Null(Stmt):
    pass


_SQL_STARTS = frozenset({"select", "insert", "update", "delete", "with", "create", "drop", "alter",
                         "truncate", "values", "comment", "lock", "notify", "listen", "unlisten"})


def statements(node: object) -> Iterator[Stmt]:
    """Every statement of a tree: nested blocks, branches, loop bodies, handlers."""
    if isinstance(node, Stmt):
        yield node
    if is_dataclass(node):
        for f in fields(node):
            yield from statements(getattr(node, f.name))
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from statements(item)


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = lex(text)
        self.i = 0

    # -------------------------------------------------------------- tokens
    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def at(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind in (WORD, OP) and tok.low in words

    def accept(self, *words: str) -> bool:
        if self.at(*words):
            self.i += 1
            return True
        return False

    def expect(self, word: str) -> Tok:
        tok = self.peek()
        if tok is None or tok.low != word:
            raise self.error(tok)
        self.i += 1
        return tok

    def error(self, tok: Tok | None) -> SqlError:
        if tok is None:
            return SqlError("42601", "syntax error at end of input")
        return SqlError("42601", f'syntax error at or near "{tok.text}"')

    def ident(self) -> str:
        tok = self.peek()
        if tok is None or tok.kind not in (WORD, QUOTED):
            raise self.error(tok)
        self.i += 1
        return tok.name()

    def until(self, *stops: str, depth_ok: bool = True) -> str:
        """The text up to (not including) the first top-level token in ``stops``."""
        start = self.peek()
        depth = 0
        while True:
            tok = self.peek()
            if tok is None:
                raise SqlError("42601", "syntax error at end of input")
            if depth == 0 and tok.kind in (WORD, OP) and tok.low in stops:
                break
            if tok.text in ("(", "["):
                depth += 1
            elif tok.text in (")", "]"):
                depth -= 1
            elif depth == 0 and tok.low == "case" and tok.kind == WORD:
                self._skip_case_expr()
                continue
            self.i += 1
        if start is None or start is tok:
            return ""
        return self.text[start.start:self.toks[self.i - 1].end].strip()

    def _skip_case_expr(self) -> None:
        """A CASE ... END expression inside an expression (its END is not the block's)."""
        self.i += 1
        depth = 1
        while depth:
            tok = self.peek()
            if tok is None:
                raise SqlError("42601", "syntax error at end of input")
            if tok.kind == WORD and tok.low == "case":
                depth += 1
            elif tok.kind == WORD and tok.low == "end":
                depth -= 1
            self.i += 1

    # -------------------------------------------------------------- structure
    def parse_body(self) -> Block:
        label = self.label()
        block = self.block(label)
        self.accept(";")
        if self.peek() is not None:
            raise self.error(self.peek())
        return block

    def label(self) -> str | None:
        if self.at("<") and self.peek(1) is not None and self.peek(1).text == "<":  # type: ignore[union-attr]
            self.i += 2
            name = self.ident()
            self.expect(">")
            self.expect(">")
            return name
        return None

    def block(self, label: str | None) -> Block:
        decls: list[Decl] = []
        if self.accept("declare"):
            while not self.at("begin"):
                if self.at("declare"):
                    self.i += 1
                    continue
                decls.append(self.decl())
        self.expect("begin")
        body = self.statements("end", "exception")
        handlers = None
        if self.accept("exception"):
            handlers = []
            while self.accept("when"):
                conds = [self.condition()]
                while self.accept("or"):
                    conds.append(self.condition())
                self.expect("then")
                handlers.append((conds, self.statements("when", "end")))
        self.expect("end")
        if self.peek() is not None and self.peek().kind in (WORD, QUOTED) and not self.at(";"):  # type: ignore[union-attr]
            self.ident()  # END label
        return Block(label, decls, body, handlers)

    def condition(self) -> str:
        if self.accept("sqlstate"):
            tok = self.peek()
            if tok is None or tok.kind != STRING:
                raise self.error(tok)
            self.i += 1
            return "sqlstate:" + string_value(tok)
        return self.ident()

    def decl(self) -> Decl:
        name = self.ident()
        if self.accept("alias"):
            self.expect("for")
            target = self.peek()
            if target is None:
                raise self.error(None)
            self.i += 1
            self.expect(";")
            return Decl(name, "alias", target.text)
        constant = self.accept("constant")
        type_text = self.until(";", ":=", "=", "default", "not", "collate")
        if not type_text:
            raise self.error(self.peek())
        low = type_text.lower()
        if "cursor" in low.split():
            raise SqlError("0A000", f"PL/pgSQL declarations of type {type_text} are not supported")
        not_null = False
        if self.accept("not"):
            self.expect("null")
            not_null = True
        default = None
        if self.accept(":=", "=", "default"):
            default = self.until(";")
        self.expect(";")
        return Decl(name, low if low == "record" else type_text, default, constant, not_null)

    def statements(self, *stops: str) -> list[Stmt]:
        out: list[Stmt] = []
        while not self.at(*stops):
            if self.peek() is None:
                raise SqlError("42601", "syntax error at end of input")
            out.append(self.statement())
        return out

    def statement(self) -> Stmt:  # noqa: C901 - one branch per statement keyword
        label = self.label()
        tok = self.peek()
        assert tok is not None
        word = tok.low if tok.kind == WORD else ""
        if word in ("declare", "begin"):
            stmt: Stmt = self.block(label)
        elif word == "loop" or word == "while":
            stmt = self.loop(label)
        elif word == "for":
            stmt = self.for_loop(label)
        elif word == "foreach":
            stmt = self.foreach_loop(label)
        elif label is not None:
            raise self.error(tok)
        elif word == "if":
            stmt = self.if_stmt()
        elif word == "case":
            stmt = self.case_stmt()
        elif word in ("exit", "continue"):
            self.i += 1
            name = None
            if self.peek() is not None and self.peek().kind in (WORD, QUOTED) and not self.at("when"):  # type: ignore[union-attr]
                name = self.ident()
            cond = self.until(";") if self.accept("when") else None
            stmt = Exit(word == "continue", name, cond)
        elif word == "return":
            stmt = self.return_stmt()
        elif word == "raise":
            stmt = self.raise_stmt()
        elif word == "perform":
            self.i += 1
            stmt = Sql("SELECT " + self.until(";"), perform=True)
        elif word == "execute":
            stmt = self.execute_stmt()
        elif word == "get":
            stmt = self.get_diagnostics()
        elif word == "null":
            self.i += 1
            stmt = Null()
        elif word in ("commit", "rollback", "savepoint", "release"):
            raise SqlError("0A000", f"{word.upper()} inside a PL/pgSQL block is not supported")
        elif word == "assert":
            self.i += 1
            cond = self.until(",", ";")
            stmt = Assert(cond, self.until(";") if self.accept(",") else None)
        elif word in ("open", "fetch", "move", "close", "call"):
            raise SqlError("0A000", f"PL/pgSQL {word.upper()} is not supported")
        elif word in _SQL_STARTS:
            stmt = self.sql_stmt()
        else:
            stmt = self.assignment()
        self.expect(";")
        return stmt

    def assignment(self) -> Assign:
        tok = self.peek()
        target = self.ident()
        if self.accept("."):
            target += "." + self.ident()
        if self.at("["):
            raise SqlError("0A000", "assignment to an array element is not supported in PL/pgSQL")
        if not self.accept(":=", "="):
            raise self.error(tok)
        return Assign(target, self.until(";"))

    def if_stmt(self) -> If:
        self.expect("if")
        first = self.until("then")
        self.expect("then")
        branches: list[tuple[str, list[Stmt]]] = [(first, self.statements("elsif", "elseif", "else", "end"))]
        otherwise = None
        while True:
            if self.accept("elsif", "elseif"):
                cond = self.until("then")
                self.expect("then")
                branches.append((cond, self.statements("elsif", "elseif", "else", "end")))
            elif self.accept("else"):
                otherwise = self.statements("end")
            else:
                break
        self.expect("end")
        self.expect("if")
        return If(branches, otherwise)

    def case_stmt(self) -> Case:
        self.expect("case")
        subject = None if self.at("when") else self.until("when")
        branches: list[tuple[str, list[Stmt]]] = []
        while self.accept("when"):
            cond = self.until("then")
            self.expect("then")
            branches.append((cond, self.statements("when", "else", "end")))
        otherwise = self.statements("end") if self.accept("else") else None
        self.expect("end")
        self.expect("case")
        return Case(subject, branches, otherwise)

    def loop(self, label: str | None) -> Loop:
        cond = None
        if self.accept("while"):
            cond = self.until("loop")
        self.expect("loop")
        body = self.statements("end")
        self.expect("end")
        self.expect("loop")
        if self.peek() is not None and not self.at(";"):
            self.ident()
        return Loop(label, body, cond)

    def for_loop(self, label: str | None) -> Stmt:
        self.expect("for")
        targets = [self.ident()]
        while self.accept(","):
            targets.append(self.ident())
        self.expect("in")
        reverse = self.accept("reverse")
        if self.accept("execute"):
            query = self.until("loop", "using")
            using = self.expr_list("loop") if self.accept("using") else []
            body = self._loop_body()
            return ForQuery(label, targets, query, True, using, body)
        first = self.peek()
        if first is not None and first.kind == WORD and first.low in ("select", "with", "values", "table"):
            query = self.until("loop")
            return ForQuery(label, targets, query, False, [], self._loop_body())
        low = self.until("..", "loop")
        if not self.accept(".."):
            raise SqlError("0A000", "FOR over a cursor or a non-query is not supported in PL/pgSQL")
        high = self.until("by", "loop")
        step = self.until("loop") if self.accept("by") else None
        if len(targets) != 1:
            raise self.error(first)
        return ForRange(label, targets[0], low, high, step, reverse, self._loop_body())

    def foreach_loop(self, label: str | None) -> ForEach:
        """FOREACH target [SLICE n] IN ARRAY expr LOOP ... END LOOP."""
        self.expect("foreach")
        target = self.ident()
        slice_n = 0
        if self.accept("slice"):
            tok = self.peek()
            if tok is None or tok.kind != NUMBER:
                raise self.error(tok)
            self.i += 1
            slice_n = int(tok.text)
        self.expect("in")
        self.expect("array")
        array = self.until("loop")
        return ForEach(label, target, slice_n, array, self._loop_body())

    def _loop_body(self) -> list[Stmt]:
        self.expect("loop")
        body = self.statements("end")
        self.expect("end")
        self.expect("loop")
        if self.peek() is not None and not self.at(";"):
            self.ident()
        return body

    def expr_list(self, *stops: str) -> list[str]:
        out = [self.until(",", *stops)]
        while self.accept(","):
            out.append(self.until(",", *stops))
        return out

    def return_stmt(self) -> Return:
        self.expect("return")
        if self.accept("next"):
            return Return(self.until(";") or None, "next")
        if self.accept("query"):
            if self.at("execute"):
                raise SqlError("0A000", "RETURN QUERY EXECUTE is not supported")
            return Return(self.until(";"), "query")
        return Return(self.until(";") or None)

    def raise_stmt(self) -> Raise:
        self.expect("raise")
        level = "exception"
        if self.at("exception", "warning", "notice", "info", "log", "debug"):
            level = self.peek().low  # type: ignore[union-attr]
            self.i += 1
        if self.at(";"):
            return Raise(level, None, None, [], [], reraise=True)
        fmt = condition = None
        args: list[str] = []
        tok = self.peek()
        if tok is not None and tok.kind == STRING:
            self.i += 1
            fmt = string_value(tok)
            while self.accept(","):
                args.append(self.until(",", ";", "using"))
        elif self.accept("sqlstate"):
            code = self.peek()
            if code is None or code.kind != STRING:
                raise self.error(code)
            self.i += 1
            condition = "sqlstate:" + string_value(code)
        elif not self.at("using"):
            condition = self.ident()
        options: list[tuple[str, str]] = []
        if self.accept("using"):
            while True:
                name = self.ident()
                self.expect("=") if not self.accept(":=") else None
                options.append((name, self.until(",", ";")))
                if not self.accept(","):
                    break
        return Raise(level, fmt, condition, args, options)

    def execute_stmt(self) -> Execute:
        self.expect("execute")
        expr = self.until(";", "into", "using")
        into: list[str] = []
        strict = False
        using: list[str] = []
        while not self.at(";"):
            if self.accept("into"):
                strict = self.accept("strict")
                into = self.targets()
            elif self.accept("using"):
                using = self.expr_list(";", "into")
            else:
                raise self.error(self.peek())
        return Execute(expr, into, strict, using)

    def targets(self) -> list[str]:
        out = [self._target()]
        while self.accept(","):
            out.append(self._target())
        return out

    def _target(self) -> str:
        name = self.ident()
        if self.accept("."):
            name += "." + self.ident()
        return name

    def get_diagnostics(self) -> GetDiagnostics:
        self.expect("get")
        stacked = self.accept("stacked")
        self.accept("current")
        self.expect("diagnostics")
        items = []
        while True:
            var = self.ident()
            if not self.accept(":=", "="):
                raise self.error(self.peek())
            items.append((var, self.ident()))
            if not self.accept(","):
                break
        return GetDiagnostics(stacked, items)

    def sql_stmt(self) -> Sql:
        """A SQL statement; ``INTO [STRICT] targets`` is cut out (PL/pgSQL's, not SELECT INTO table)."""
        start = self.i
        depth = 0
        into_at: tuple[int, int, bool, list[str]] | None = None
        first = self.peek().low  # type: ignore[union-attr]
        while not (depth == 0 and self.at(";")):
            tok = self.peek()
            if tok is None:
                raise SqlError("42601", "syntax error at end of input")
            if tok.text == "(":
                depth += 1
            elif tok.text == ")":
                depth -= 1
            elif depth == 0 and tok.low == "into" and tok.kind == WORD and first in ("select", "with") \
                    or depth == 0 and tok.low == "into" and first in ("insert", "update", "delete") \
                    and self._after_returning(start):
                begin = tok.start
                self.i += 1
                strict = self.accept("strict")
                targets = self.targets()
                into_at = (begin, self.toks[self.i - 1].end, strict, targets)
                continue
            self.i += 1
        end = self.toks[self.i - 1].end
        begin_text = self.toks[start].start
        if into_at is None:
            return Sql(self.text[begin_text:end])
        sql = self.text[begin_text:into_at[0]] + " " + self.text[into_at[1]:end]
        return Sql(sql, into_at[3], into_at[2])

    def _after_returning(self, start: int) -> bool:
        return any(t.kind == WORD and t.low == "returning" for t in self.toks[start:self.i])


def parse_plpgsql(text: str) -> Block:
    return Parser(text).parse_body()


def is_number(tok: Tok) -> bool:
    return tok.kind == NUMBER


__all__ = ["parse_plpgsql", "Block", "Decl", "OP"]
