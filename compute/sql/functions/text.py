"""String and bytea functions: translation and SQLite runtime."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.functions.common import args_as, scalar_registrar, simple, typed_udf
from compute.sql.functions.session import SessionContext
from compute.sql.translate.scope import Handler, Scope, fn, lit_int, raw
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler


def _length(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
            scope: Scope) -> tuple[exp.Expression, Ty]:
    if types and types[0].oid == T.BPCHAR:
        return fn("length", fn("rtrim", args[0], exp.Literal.string(" "))), ty.INT4
    return fn("length", *args), ty.INT4


def _substr(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
            scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("substr", *args), Ty(T.BYTEA) if types and types[0].oid == T.BYTEA else ty.TEXT


def _h_encode(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", "function encode does not exist")
    return fn("pg_encode", *args_as(c, args, types, [Ty(T.BYTEA), ty.TEXT])), ty.TEXT


def _h_decode(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", "function decode does not exist")
    return fn("pg_decode", *args_as(c, args, types, [ty.TEXT, ty.TEXT])), Ty(T.BYTEA)


def _h_format(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: Scope) -> tuple[exp.Expression, Ty]:
    if not args:
        raise SqlError("42883", "function format() does not exist")
    out = [c.to_text(c.coerce(args[0], types[0], ty.TEXT), ty.TEXT)]
    return fn("pg_format", *out, *_output_texts(c, args[1:], types[1:])), ty.TEXT


def _output_texts(c: ExprCompiler, args: list[exp.Expression], types: list[Ty]) -> list[exp.Expression]:
    """Each argument as its type's output function prints it (format, concat, concat_ws take
    "any"): a timestamptz in the session's zone, a BC date with its suffix, a bool as t/f."""
    out: list[exp.Expression] = []
    for a, t in zip(args, types, strict=True):
        if t.oid == T.UNKNOWN:
            a, t = c.coerce(a, t, ty.TEXT), ty.TEXT
        if t.oid == T.BOOL:  # the output function (t/f), not the bool -> text cast (true/false)
            out.append(raw(f"(CASE ({c.sql(a)}) != 0 WHEN 1 THEN 't' WHEN 0 THEN 'f' END)"))
            continue
        out.append(c.to_text(a, t))
    return out


def _h_concat(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: Scope) -> tuple[exp.Expression, Ty]:
    if not args:
        raise SqlError("42883", "function concat() does not exist")
    return fn("pg_concat", *_output_texts(c, args, types)), ty.TEXT


def _h_concat_ws(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                 scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) < 2:
        raise SqlError("42883", f"function concat_ws({'unknown' if args else ''}) does not exist")
    sep = c.to_text(c.coerce(args[0], types[0], ty.TEXT), ty.TEXT)
    return fn("pg_concat_ws", sep, *_output_texts(c, args[1:], types[1:])), ty.TEXT


def _h_to_hex(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 1:
        raise SqlError("42883", "function to_hex does not exist")
    bits = 64 if types[0].oid == T.INT8 else 32
    return fn("pg_to_hex_bits", c.coerce(args[0], types[0], ty.INT8 if bits == 64 else ty.INT4),
                lit_int(bits)), ty.TEXT


def _sha(name: str) -> Any:
    def digest(data: Any) -> bytes | None:
        return None if data is None else hashlib.new(name, _bytes(data)).digest()

    return digest


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def _encode(data: Any, fmt: Any) -> str | None:
    if data is None or fmt is None:
        return None
    raw = _bytes(data)
    f = str(fmt).lower()
    if f == "hex":
        return raw.hex()
    if f == "base64":
        text = base64.b64encode(raw).decode()
        return "\n".join(text[i:i + 76] for i in range(0, len(text), 76))
    if f == "escape":
        out = []
        for b in raw:
            if b == 0x5C:
                out.append("\\\\")
            elif b == 0 or b >= 0x80:
                out.append(f"\\{b:03o}")
            else:
                out.append(chr(b))
        return "".join(out)
    raise SqlError("22023", f'unrecognized encoding: "{fmt}"')


def _decode(text: Any, fmt: Any) -> bytes | None:
    if text is None or fmt is None:
        return None
    s = str(text)
    f = str(fmt).lower()
    if f == "hex":
        compact = re.sub(r"\s+", "", s)
        bad = re.search(r"[^0-9a-fA-F]", compact)
        if bad:
            raise SqlError("22023", f'invalid hexadecimal digit: "{bad.group(0)}"')
        if len(compact) % 2:
            raise SqlError("22023", "invalid hexadecimal data: odd number of digits")
        return bytes.fromhex(compact)
    if f == "base64":
        compact = re.sub(r"\s+", "", s)
        try:
            return base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError):
            raise SqlError("22023", "invalid base64 end sequence",
                           hint="Input data is missing padding, is truncated, or is otherwise corrupted."
                           ) from None
    if f == "escape":
        out = bytearray()
        i = 0
        while i < len(s):
            ch = s[i]
            if ch != "\\":
                out += ch.encode()
                i += 1
            elif s[i + 1:i + 2] == "\\":
                out.append(0x5C)
                i += 2
            elif re.match(r"[0-3][0-7]{2}", s[i + 1:i + 4]):
                out.append(int(s[i + 1:i + 4], 8))
                i += 4
            else:
                raise SqlError("22P02", "invalid input syntax for type bytea")
        return bytes(out)
    raise SqlError("22023", f'unrecognized encoding: "{fmt}"')


_FORMAT_SPEC = re.compile(r"%(?:(\d+)\$)?(-)?(\*(?:\d+\$)?|\d+)?([sIL%])?")


def _format(fmt: Any, *args: Any) -> str | None:
    if fmt is None:
        return None
    s = str(fmt)
    out: list[str] = []
    next_arg = 0
    i = 0
    while i < len(s):
        j = s.find("%", i)
        if j < 0:
            out.append(s[i:])
            break
        out.append(s[i:j])
        if s.startswith("%%", j):
            out.append("%")
            i = j + 2
            continue
        m = _FORMAT_SPEC.match(s, j)
        if m is None or m.group(4) is None:
            if j + 1 >= len(s) or (m is not None and m.end() >= len(s)):
                raise SqlError("22023", "unterminated format() type specifier",
                               hint='For a single "%" use "%%".')
            bad = s[m.end()] if m is not None else s[j + 1]
            raise SqlError("22023", f'unrecognized format() type specifier "{bad}"',
                           hint='For a single "%" use "%%".')
        if m.group(4) == "%":
            out.append("%")
            i = m.end()
            continue
        width_spec = m.group(3)
        width = 0
        left = bool(m.group(2))
        if width_spec and width_spec.startswith("*"):
            if next_arg >= len(args):
                raise SqlError("22023", "too few arguments for format()")
            w = args[next_arg]
            next_arg += 1
            width = int(w) if w is not None else 0
            if width < 0:
                left, width = True, -width
        elif width_spec:
            width = int(width_spec)
        if m.group(1):
            index = int(m.group(1)) - 1
            if index < 0:
                raise SqlError("22023", "format specifies argument 0, but arguments are numbered from 1")
            next_arg = index
        if next_arg >= len(args):
            raise SqlError("22023", "too few arguments for format()")
        value = args[next_arg]
        next_arg += 1
        kind = m.group(4)
        if kind == "s":
            text = "" if value is None else text_of(value)
        elif kind == "I":
            if value is None:
                raise SqlError("22004", "null values cannot be formatted as an SQL identifier")
            text = _quote_name(text_of(value))
        else:
            text = "NULL" if value is None else _quote_literal(text_of(value))
        out.append(text.ljust(width) if left else text.rjust(width))
        i = m.end()
    return "".join(out)


def text_of(value: Any) -> str:
    if isinstance(value, float):
        return T.encode_text(T.FLOAT8, value).decode()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


_SAFE_IDENT = re.compile(r"[a-z_][a-z0-9_$]*")


def _quote_name(name: str) -> str:
    if _SAFE_IDENT.fullmatch(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    quoted = "'" + text.replace("'", "''").replace("\\", "\\\\") + "'"
    return ("E" + quoted) if "\\" in text else quoted


def _simple_case(text: str, convert: Callable[[str], str]) -> str:
    """Character-by-character case mapping, as towupper/towlower do under C.UTF-8: a character
    whose full mapping is longer (ß -> SS) stays as it is."""
    converted = convert(text)
    if len(converted) == len(text):
        return converted
    out = []
    for ch in text:
        mapped = convert(ch)
        out.append(mapped if len(mapped) == 1 else ch)
    return "".join(out)


def text_out(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return T.format_float(value)
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return str(value)


def _pad(s: Any, n: Any, fill: Any, left: bool) -> Any:
    if s is None or n is None or fill is None:
        return None
    text, n = str(s), int(n)
    if len(text) >= n:
        return text[:n]
    if not fill:
        return text
    need = n - len(text)
    padding = (str(fill) * (need // len(str(fill)) + 1))[:need]
    return padding + text if left else text + padding


def _split_part(s: Any, sep: Any, n: Any) -> Any:
    if s is None or sep is None or n is None:
        return None
    if n == 0:
        raise SqlError("22023", "field position must not be zero")
    parts = str(s).split(str(sep)) if sep else [str(s)]
    index = n - 1 if n > 0 else len(parts) + n
    return parts[index] if 0 <= index < len(parts) else ""


def _translate(s: Any, src: Any, dst: Any) -> str:
    out = []
    src, dst = str(src), str(dst)
    for ch in str(s):
        i = src.find(ch)
        if i < 0:
            out.append(ch)
        elif i < len(dst):
            out.append(dst[i])
    return "".join(out)


def quote_ident_value(s: Any) -> Any:
    if s is None:
        return None
    text = str(s)
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", text):
        return text
    return '"' + text.replace('"', '""') + '"'


HANDLERS: dict[str, Handler] = {
    "encode": _h_encode,
    "decode": _h_decode,
    "format": _h_format,
    "to_hex": _h_to_hex,
    "bit_length": typed_udf("pg_bit_length", ty.INT4, [ty.TEXT], (1,)),
    "sha224": typed_udf("pg_sha224", Ty(T.BYTEA), [Ty(T.BYTEA)], (1,)),
    "sha256": typed_udf("pg_sha256", Ty(T.BYTEA), [Ty(T.BYTEA)], (1,)),
    "sha384": typed_udf("pg_sha384", Ty(T.BYTEA), [Ty(T.BYTEA)], (1,)),
    "sha512": typed_udf("pg_sha512", Ty(T.BYTEA), [Ty(T.BYTEA)], (1,)),
    "quote_nullable": typed_udf("pg_quote_nullable", ty.TEXT, [ty.TEXT], (1,)),
    "starts_with": typed_udf("pg_starts_with", ty.BOOL, [ty.TEXT, ty.TEXT], (2,)),
    "gen_random_uuid": simple("gen_random_uuid", Ty(T.UUID)),
    "uuid_generate_v4": simple("gen_random_uuid", Ty(T.UUID)),
    "lower": simple("pg_lower", ty.TEXT),
    "upper": simple("pg_upper", ty.TEXT),
    "initcap": simple("pg_initcap", ty.TEXT),
    "concat": _h_concat,
    "concat_ws": _h_concat_ws,
    "md5": simple("pg_md5", ty.TEXT),
    "left": simple("pg_left", ty.TEXT),
    "right": simple("pg_right", ty.TEXT),
    "repeat": simple("pg_repeat", ty.TEXT),
    "lpad": simple("pg_lpad", ty.TEXT),
    "rpad": simple("pg_rpad", ty.TEXT),
    "split_part": simple("pg_split_part", ty.TEXT),
    "strpos": simple("pg_strpos", ty.INT4),
    "reverse": simple("pg_reverse", ty.TEXT),
    "chr": simple("pg_chr", ty.TEXT),
    "ascii": simple("pg_ascii", ty.INT4),
    "btrim": simple("pg_btrim", ty.TEXT),
    "ltrim": simple("pg_ltrim", ty.TEXT),
    "rtrim": simple("pg_rtrim", ty.TEXT),
    "replace": simple("replace", ty.TEXT),
    "translate": simple("pg_translate", ty.TEXT),
    "quote_ident": simple("pg_quote_ident", ty.TEXT),
    "quote_literal": simple("pg_quote_literal", ty.TEXT),
    "octet_length": simple("pg_octet_length", ty.INT4),
    "gen_random_bytes": simple("pg_random_bytes", Ty(T.BYTEA)),
    "length": _length,
    "char_length": _length,
    "character_length": _length,
    "substr": _substr,
}


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    scalar = scalar_registrar(conn)
    det = {"deterministic": True}

    # --- strings
    scalar("pg_lower", lambda s: None if s is None else _simple_case(str(s), str.lower), 1, True)
    scalar("pg_upper", lambda s: None if s is None else _simple_case(str(s), str.upper), 1, True)
    scalar("pg_initcap", lambda s: None if s is None else re.sub(
        r"[A-Za-z0-9]+", lambda m: m.group(0)[0].upper() + m.group(0)[1:].lower(), str(s)), 1, True)
    scalar("pg_concat", lambda *args: "".join(text_out(a) for a in args if a is not None), -1, True)
    scalar("pg_concat_ws", lambda sep, *args: None if sep is None else
           str(sep).join(text_out(a) for a in args if a is not None), -1, True)
    scalar("pg_md5", lambda s: None if s is None else hashlib.md5(
        s if isinstance(s, bytes) else str(s).encode()).hexdigest(), 1, True)
    scalar("pg_left", lambda s, n: None if s is None or n is None else (str(s)[:n] if n >= 0 else str(s)[:n]), 2, True)
    scalar("pg_right", lambda s, n: None if s is None or n is None else (
        (str(s)[-n:] if n > 0 else "") if n >= 0 else str(s)[-n:]), 2, True)
    scalar("pg_repeat", lambda s, n: None if s is None or n is None else str(s) * max(int(n), 0), 2, True)
    scalar("pg_lpad", lambda s, n, fill=" ": _pad(s, n, fill, left=True), -1, True)
    scalar("pg_rpad", lambda s, n, fill=" ": _pad(s, n, fill, left=False), -1, True)
    scalar("pg_split_part", _split_part, 3, True)
    scalar("pg_strpos", lambda s, sub: None if s is None or sub is None else str(s).find(str(sub)) + 1, 2, True)
    scalar("pg_reverse", lambda s: None if s is None else str(s)[::-1], 1, True)
    scalar("pg_chr", lambda n: None if n is None else chr(int(n)), 1, True)
    scalar("pg_ascii", lambda s: None if s is None or s == "" else ord(str(s)[0]), 1, True)
    scalar("pg_to_hex", lambda n: None if n is None else format(int(n) & 0xFFFFFFFFFFFFFFFF if n < 0 else int(n), "x"), 1, True)
    scalar("pg_btrim", lambda s, chars=" ": None if s is None or chars is None else str(s).strip(chars), -1, True)
    scalar("pg_ltrim", lambda s, chars=" ": None if s is None or chars is None else str(s).lstrip(chars), -1, True)
    scalar("pg_rtrim", lambda s, chars=" ": None if s is None or chars is None else str(s).rstrip(chars), -1, True)
    scalar("pg_quote_ident", quote_ident_value, 1, True)
    scalar("pg_quote_literal", lambda s: None if s is None else "'" + str(s).replace("'", "''") + "'", 1, True)
    scalar("pg_bpchar_trim", lambda s: None if s is None else str(s).rstrip(" "), 1, True)
    scalar("pg_octet_length", lambda s: None if s is None else len(s if isinstance(s, bytes) else str(s).encode()), 1, True)
    scalar("pg_translate", lambda s, a, b: None if s is None or a is None or b is None else _translate(s, a, b), 3, True)
    scalar("gen_random_uuid", lambda: str(uuid.uuid4()), 0)
    scalar("pg_random_bytes", lambda n: os.urandom(int(n)), 1)
    conn.create_scalar_function("pg_to_hex_bits", lambda v, bits: None if v is None else
                                format(int(v) & ((1 << bits) - 1), "x"), 2, **det)
    conn.create_scalar_function("pg_bytea_concat", lambda a, b: None if a is None or b is None else
                                _bytes(a) + _bytes(b), 2, **det)
    conn.create_scalar_function("pg_bit_length", lambda s: None if s is None else 8 * len(_bytes(s)), 1, **det)
    for _alg in ("sha224", "sha256", "sha384", "sha512"):
        conn.create_scalar_function(f"pg_{_alg}", _sha(_alg), 1, **det)
    conn.create_scalar_function("pg_quote_nullable", lambda s: "NULL" if s is None else _quote_literal(text_of(s)),
                                1, **det)
    conn.create_scalar_function("pg_starts_with", lambda a, b: None if a is None or b is None else
                                int(text_of(a).startswith(text_of(b))), 2, **det)
    conn.create_scalar_function("pg_encode", _encode, 2, **det)
    conn.create_scalar_function("pg_decode", _decode, 2, **det)
    conn.create_scalar_function("pg_format", _format, -1, **det)
