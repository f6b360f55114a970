"""Password authentication: md5 and SCRAM-SHA-256 (RFC 5802 / 7677), as PostgreSQL does it.

A password file holds one ``user:secret`` per line; the secret is a plaintext password, an
``md5…`` hash (md5 auth only) or a PostgreSQL-style ``SCRAM-SHA-256$iter:salt$stored:server``
verifier. Unknown users still go through a full exchange with a fake verifier so that the
answer does not reveal which user names exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from strata.pgwire import messages as m

SCRAM_ITERATIONS = 4096


class AuthFailed(Exception):
    """Wrong password or malformed exchange (SQLSTATE 28P01)."""


@dataclass(frozen=True)
class ScramVerifier:
    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes

    @classmethod
    def from_password(cls, password: str, salt: bytes | None = None,
                      iterations: int = SCRAM_ITERATIONS) -> ScramVerifier:
        salt = salt if salt is not None else os.urandom(16)
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        return cls(iterations, salt, hashlib.sha256(client_key).digest(), server_key)

    @classmethod
    def parse(cls, text: str) -> ScramVerifier:
        try:
            scheme, iter_salt, keys = text.split("$")
            iters, salt = iter_salt.split(":")
            stored, server = keys.split(":")
            assert scheme == "SCRAM-SHA-256"
            return cls(int(iters), base64.b64decode(salt), base64.b64decode(stored),
                       base64.b64decode(server))
        except (ValueError, AssertionError) as exc:
            raise ValueError("malformed SCRAM-SHA-256 verifier") from exc

    def text(self) -> str:
        b64 = base64.b64encode
        return (f"SCRAM-SHA-256${self.iterations}:{b64(self.salt).decode()}$"
                f"{b64(self.stored_key).decode()}:{b64(self.server_key).decode()}")


class PasswordBook:
    """Secrets by user name, loaded from a password file."""

    def __init__(self, secrets_by_user: dict[str, str]) -> None:
        self._secrets = secrets_by_user
        self._fake_salt = os.urandom(16)

    @classmethod
    def load(cls, path: str | Path) -> PasswordBook:
        entries: dict[str, str] = {}
        for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, secret = line.partition(":")
            if not sep or not user:
                raise ValueError(f"{path}:{lineno}: expected user:password")
            entries[user] = secret
        return cls(entries)

    def knows(self, user: str) -> bool:
        """The file names this user (it then wins over roles made by SQL)."""
        return user in self._secrets

    def scram_verifier(self, user: str) -> tuple[ScramVerifier, bool]:
        """The user's verifier and whether the user is real (a fake one keeps timing alike)."""
        secret = self._secrets.get(user)
        if secret is None:
            return ScramVerifier.from_password(secrets.token_hex(8), self._fake_salt), False
        if secret.startswith("SCRAM-SHA-256$"):
            return ScramVerifier.parse(secret), True
        return ScramVerifier.from_password(secret, hashlib.sha256(user.encode()).digest()[:16]), True

    def check_md5(self, user: str, salt: bytes, response: str) -> bool:
        secret = self._secrets.get(user)
        if secret is None or secret.startswith("SCRAM-SHA-256$"):
            return False
        inner = secret[3:] if secret.startswith("md5") and len(secret) == 35 else \
            hashlib.md5((secret + user).encode()).hexdigest()
        expected = "md5" + hashlib.md5(inner.encode() + salt).hexdigest()
        return hmac.compare_digest(expected, response)


class ScramExchange:
    """Server side of one SCRAM-SHA-256 exchange (no channel binding)."""

    def __init__(self, verifier: ScramVerifier, user_exists: bool) -> None:
        self.verifier = verifier
        self.user_exists = user_exists
        self.server_nonce = base64.b64encode(os.urandom(18)).decode()
        self.client_first_bare = ""
        self.server_first = ""
        self.nonce = ""

    def first(self, client_first: bytes) -> bytes:
        try:
            text = client_first.decode()
        except UnicodeDecodeError:
            raise AuthFailed("malformed SCRAM message") from None
        gs2, _, rest = text.partition(",")
        if gs2 not in ("n", "y") and not gs2.startswith("p="):
            raise AuthFailed("malformed SCRAM message (gs2 header)")
        if gs2.startswith("p="):
            raise AuthFailed("channel binding is not supported")
        authzid, _, bare = rest.partition(",")
        attrs = dict(a.split("=", 1) for a in bare.split(",") if "=" in a)
        if "r" not in attrs:
            raise AuthFailed("malformed SCRAM message (no nonce)")
        self.client_first_bare = bare
        self.nonce = attrs["r"] + self.server_nonce
        salt = base64.b64encode(self.verifier.salt).decode()
        self.server_first = f"r={self.nonce},s={salt},i={self.verifier.iterations}"
        return self.server_first.encode()

    def final(self, client_final: bytes) -> bytes:
        try:
            text = client_final.decode()
            without_proof, _, proof_part = text.rpartition(",p=")
            attrs = dict(a.split("=", 1) for a in without_proof.split(","))
            proof = base64.b64decode(proof_part)
        except (UnicodeDecodeError, ValueError):
            raise AuthFailed("malformed SCRAM message") from None
        if attrs.get("r") != self.nonce:
            raise AuthFailed("SCRAM nonce mismatch")
        auth_message = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        signature = hmac.digest(self.verifier.stored_key, auth_message, "sha256")
        if len(proof) != len(signature):
            raise AuthFailed("malformed SCRAM proof")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        ok = hmac.compare_digest(hashlib.sha256(client_key).digest(), self.verifier.stored_key)
        if not (ok and self.user_exists):
            raise AuthFailed("password authentication failed")
        server_sig = hmac.digest(self.verifier.server_key, auth_message, "sha256")
        return b"v=" + base64.b64encode(server_sig)


class BadMechanism(Exception):
    """The client chose a SASL mechanism other than SCRAM-SHA-256 (SQLSTATE 28000)."""


async def scram_server_exchange(book: PasswordBook, user: str, send: Callable[[bytes], None],
                                read_password_message: Callable[[], Awaitable[bytes]]) -> None:
    """SCRAM-SHA-256 over the wire as the server (compute and proxy): AuthenticationSASL,
    the client's first message, SASLContinue, the client's proof, SASLFinal.

    Raises BadMechanism (28000) or AuthFailed (28P01: wrong password, unknown user, or a
    malformed exchange); ``read_password_message`` flushes and returns a 'p' message body.
    """
    verifier, exists = book.scram_verifier(user)
    exchange = ScramExchange(verifier, exists)
    send(m.auth_sasl(["SCRAM-SHA-256"]))
    try:
        r = m.Reader(await read_password_message())
        if r.cstring() != "SCRAM-SHA-256":
            raise BadMechanism("client selected an invalid SASL authentication mechanism")
        length = r.int32()
        first = r.raw(length) if length >= 0 else b""
        send(m.auth_sasl_continue(exchange.first(first)))
        final = await read_password_message()
        send(m.auth_sasl_final(exchange.final(final)))
    except (m.ProtocolViolation, m.InvalidEncoding) as exc:
        raise AuthFailed(str(exc)) from exc
