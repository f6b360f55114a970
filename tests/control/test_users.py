"""The users file the control plane writes and the proxy and computes read."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from control.errors import Conflict, InvalidRequest, NotFound
from control.spec import ClusterSpec
from control.state import ClusterDir
from control.users import (
    CONTROL_USER,
    UserBook,
    cluster_dsn,
    control_login,
    ensure_credentials,
)
from strata.pgwire.auth import PasswordBook, ScramVerifier


def test_create_list_delete_and_file_format(tmp_path: Path) -> None:
    book = UserBook(tmp_path / "users")
    book.create("alice", "wonder land")
    book.create("bob", "builder")
    assert book.names() == ["alice", "bob"]
    text = (tmp_path / "users").read_text()
    assert "wonder land" not in text and text.count("SCRAM-SHA-256$") == 2
    assert stat.S_IMODE((tmp_path / "users").stat().st_mode) == 0o600
    verifier, exists = PasswordBook.load(tmp_path / "users").scram_verifier("alice")
    assert exists
    again = ScramVerifier.from_password("wonder land", salt=verifier.salt, iterations=verifier.iterations)
    assert again.stored_key == verifier.stored_key  # the verifier is of that password
    with pytest.raises(Conflict):
        book.create("alice", "x")
    book.delete("alice")
    assert book.names() == ["bob"]
    with pytest.raises(NotFound):
        book.delete("alice")


@pytest.mark.parametrize("name", ["", "1abc", "a-b", "a b", "x" * 64, "strata_evil", "robert'); --"])
def test_bad_or_reserved_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidRequest):
        UserBook(tmp_path / "users").create(name, "pw")


def test_empty_or_huge_password_refused(tmp_path: Path) -> None:
    book = UserBook(tmp_path / "users")
    with pytest.raises(InvalidRequest):
        book.create("alice", "")
    with pytest.raises(InvalidRequest):
        book.create("alice", "x" * 2000)


def test_credentials_made_once(tmp_path: Path) -> None:
    cdir = ClusterDir(tmp_path)
    cdir.create()
    spec = ClusterSpec(dir=str(tmp_path), proxy_port=6000)
    ensure_credentials(cdir, spec)
    first = {n: (tmp_path / n).read_text() for n in ("proxy-secret", "control-password", "password", "users")}
    ensure_credentials(cdir, spec)
    assert {n: (tmp_path / n).read_text() for n in first} == first  # idempotent
    for n in first:
        assert stat.S_IMODE((tmp_path / n).stat().st_mode) == 0o600, n
    assert UserBook(tmp_path / "users").names(include_reserved=True) == ["postgres", CONTROL_USER]
    user, password = control_login(cdir)
    assert user == CONTROL_USER and PasswordBook.load(tmp_path / "users").scram_verifier(user)[1]
    pw = first["password"].strip()
    assert cluster_dsn(cdir, spec) == f"postgresql://postgres:{pw}@127.0.0.1:6000/postgres"
    assert cluster_dsn(cdir, spec, "127.0.0.1:7000").endswith("@127.0.0.1:7000/postgres")


def test_trust_cluster_has_no_first_password(tmp_path: Path) -> None:
    cdir = ClusterDir(tmp_path)
    cdir.create()
    spec = ClusterSpec(dir=str(tmp_path), auth="trust")
    ensure_credentials(cdir, spec)
    assert not (tmp_path / "password").exists()
    assert cluster_dsn(cdir, spec) == "postgresql://postgres@127.0.0.1:55432/postgres"
