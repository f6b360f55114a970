"""Reading a statement's token stream: a keyword cursor (``Tokens``) and identifier quoting
read from the source text (``is_quoted``, ``ident_value``), never from sqlglot's token types,
which vary across sqlglot versions. A leaf (sqlglot tokens and the api only).
"""

from __future__ import annotations

from sqlglot.tokens import Token

from compute.sql.api import SqlError


class Tokens:
    """A cursor over a statement's tokens with case-insensitive keyword matching."""

    def __init__(self, tokens: tuple[Token, ...], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.pos = 0

    def peek(self, offset: int = 0) -> str | None:
        index = self.pos + offset
        if index >= len(self.tokens):
            return None
        return self.tokens[index].text.lower()

    def token(self, offset: int = 0) -> Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def accept(self, *words: str) -> bool:
        for i, word in enumerate(words):
            if self.peek(i) != word:
                return False
        self.pos += len(words)
        return True

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            self.error()

    def next(self) -> Token:
        tok = self.token()
        if tok is None:
            raise SqlError("42601", "syntax error at end of input")
        self.pos += 1
        return tok

    def next_name(self) -> str:
        """The next token as an identifier value (quoted keeps case, bare is lower-cased)."""
        return ident_value(self.next(), self.text)

    def at_end(self) -> bool:
        return self.pos >= len(self.tokens)

    def rest_text(self) -> str:
        tok = self.token()
        return "" if tok is None else self.text[tok.start :]

    def error(self) -> SqlError:
        tok = self.token()
        if tok is None:
            raise SqlError("42601", "syntax error at end of input")
        raise SqlError("42601", f'syntax error at or near "{tok.text}"', position=tok.start + 1)


def is_quoted(tok: Token, text: str) -> bool:
    """A double-quoted identifier, seen in the source text (token types vary across sqlglot versions)."""
    return text[tok.start : tok.start + 1] == '"'


def ident_value(tok: Token, text: str) -> str:
    """Identifier value: quoted keeps case, unquoted is lower-cased (PostgreSQL folding)."""
    return tok.text if is_quoted(tok, text) else tok.text.lower()


def word(tok: Token, text: str) -> str | None:
    """The token as a bare keyword or name, lower-cased, or None when it is anything else: a string
    literal, a quoted identifier (its source text differs from its value) or punctuation. Read
    from the source text, so a keyword inside a literal or a quoted name never matches."""
    source = text[tok.start : tok.end + 1]
    if not source or not (source[0].isalpha() or source[0] == "_") or source.lower() != tok.text.lower():
        return None
    return source.lower()
