"""A small lexer for PL/pgSQL bodies and the SQL fragments inside them.

Tokens keep their offsets into the text, so the parser slices SQL fragments out of the body
unchanged and the interpreter replaces variable references token by token (never with regular
expressions: a name inside a string literal or a quoted identifier must not match).
"""

from __future__ import annotations

from dataclasses import dataclass

from compute.sql.api import SqlError

WORD, QUOTED, STRING, NUMBER, PARAM, OP = "word", "quoted", "string", "number", "param", "op"
_OPS = (":=", "..", "::", "<>", "!=", ">=", "<=", "=>", "||", "->>", "->", "#>>", "#>", "@>", "<@")


@dataclass(frozen=True, slots=True)
class Tok:
    kind: str
    text: str  # as written
    start: int
    end: int  # exclusive

    @property
    def low(self) -> str:
        return self.text.lower() if self.kind == WORD else self.text

    def name(self) -> str:
        """The identifier's value: folded to lower case unless quoted."""
        if self.kind == QUOTED:
            return self.text[1:-1].replace('""', '"')
        return self.text.lower()


def lex(text: str) -> list[Tok]:
    out: list[Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        elif text.startswith("/*", i):
            i = _block_comment(text, i)
        elif c == "'" or (c in "eEbBxX" and text[i + 1:i + 2] == "'"):
            j = _string_end(text, i + (0 if c == "'" else 1), backslash=c in "eE")
            out.append(Tok(STRING, text[i:j], i, j))
            i = j
        elif c == "$" and i + 1 < n and text[i + 1].isdigit():
            j = i + 1
            while j < n and text[j].isdigit():
                j += 1
            out.append(Tok(PARAM, text[i:j], i, j))
            i = j
        elif c == "$":
            j = text.find("$", i + 1)
            tag = text[i:j + 1] if j > 0 else ""
            if not tag or not all(ch.isalnum() or ch == "_" for ch in tag[1:-1]):
                out.append(Tok(OP, c, i, i + 1))
                i += 1
                continue
            k = text.find(tag, j + 1)
            if k < 0:
                raise SqlError("42601", f"unterminated dollar-quoted string at or near \"{text[i:i + 20]}\"")
            out.append(Tok(STRING, text[i:k + len(tag)], i, k + len(tag)))
            i = k + len(tag)
        elif c == '"':
            j = i + 1
            while True:
                j = text.find('"', j)
                if j < 0:
                    raise SqlError("42601", "unterminated quoted identifier")
                if text.startswith('""', j):
                    j += 2
                    continue
                break
            out.append(Tok(QUOTED, text[i:j + 1], i, j + 1))
            i = j + 1
        elif c.isalpha() or c == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "_$"):
                j += 1
            out.append(Tok(WORD, text[i:j], i, j))
            i = j
        elif c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit() and not text.startswith("..", i)):
            j = i
            while j < n and (text[j].isdigit() or (text[j] == "." and not text.startswith("..", j))):
                j += 1
            if j < n and text[j] in "eE" and (text[j + 1:j + 2].isdigit() or text[j + 1:j + 2] in ("+", "-")):
                j += 2
                while j < n and text[j].isdigit():
                    j += 1
            out.append(Tok(NUMBER, text[i:j], i, j))
            i = j
        else:
            op = next((o for o in _OPS if text.startswith(o, i)), c)
            out.append(Tok(OP, op, i, i + len(op)))
            i += len(op)
    return out


def _block_comment(text: str, i: int) -> int:
    depth, j = 0, i
    while j < len(text):
        if text.startswith("/*", j):
            depth += 1
            j += 2
        elif text.startswith("*/", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        else:
            j += 1
    raise SqlError("42601", "unterminated /* comment")


def _string_end(text: str, i: int, backslash: bool) -> int:
    j = i + 1
    while j < len(text):
        ch = text[j]
        if backslash and ch == "\\":
            j += 2
            continue
        if ch == "'":
            if text.startswith("''", j):
                j += 2
                continue
            return j + 1
        j += 1
    raise SqlError("42601", "unterminated quoted string")


def string_value(tok: Tok) -> str:
    """The value of a string literal token ('', E'', $$)."""
    t = tok.text
    if t.startswith("$"):
        tag_end = t.index("$", 1) + 1
        return t[tag_end:len(t) - tag_end]
    if t[0] in "eE":
        body = t[2:-1].replace("''", "'")
        return body.encode("latin-1", "backslashreplace").decode("unicode_escape") if "\\" in body else body
    return t[1:-1].replace("''", "'")
