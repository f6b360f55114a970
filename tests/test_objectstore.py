"""The object store contract, run identically on the local-directory and S3 back ends."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from strata.objectstore import (
    LocalDirStore,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    S3Store,
    open_object_store,
)
from tests.s3_fixture import S3Server, s3_server  # noqa: F401


@pytest.fixture(params=["local", "file-url", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield open_object_store(str(tmp_path / "objs"))
    elif request.param == "file-url":
        yield open_object_store(f"file://{tmp_path}/objs")
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        yield open_object_store(server.url("some/prefix"))


def test_put_get_roundtrip(store: ObjectStore) -> None:
    store.put("a/b/c.bin", b"hello")
    assert store.get("a/b/c.bin") == b"hello"
    store.put("a/b/c.bin", b"world!")  # overwrite replaces whole object
    assert store.get("a/b/c.bin") == b"world!"
    big = os.urandom(3 * 1024 * 1024 + 17)
    store.put("big", big)
    assert store.get("big") == big
    store.put("empty", b"")
    assert store.get("empty") == b""
    assert store.exists("empty")


def test_get_missing_raises(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.get("nope")
    with pytest.raises(ObjectNotFound):
        store.get("a/nope/deeper")
    assert not store.exists("nope")


def test_list_sorted_and_prefixed(store: ObjectStore) -> None:
    keys = ["t1/x/002", "t1/x/001", "t1/y", "t2/z", "t10/a", "t1x"]
    for k in keys:
        store.put(k, k.encode())
    assert store.list("t1/") == ["t1/x/001", "t1/x/002", "t1/y"]
    assert store.list("t1") == ["t1/x/001", "t1/x/002", "t1/y", "t10/a", "t1x"]
    assert store.list("") == sorted(keys)
    assert store.list("t1/x/00") == ["t1/x/001", "t1/x/002"]
    assert store.list("nothing/") == []


def test_delete_and_exists(store: ObjectStore) -> None:
    store.put("d/k", b"1")
    assert store.exists("d/k")
    store.delete("d/k")
    assert not store.exists("d/k")
    with pytest.raises(ObjectNotFound):
        store.get("d/k")
    store.delete("d/k")  # missing is fine
    store.delete("never/existed")
    assert store.list("d/") == []


def test_invalid_keys_rejected(store: ObjectStore) -> None:
    for bad in ["", "/abs", "a/../b", "a//b", "dir/", ".tmp-x"]:
        with pytest.raises(ObjectStoreError):
            store.put(bad, b"x")


def test_concurrent_puts_readers_never_see_partial(store: ObjectStore) -> None:
    """Readers racing a writer see one of the complete versions, never a torn one."""
    versions = [bytes([i]) * (256 * 1024) for i in range(1, 6)]
    store.put("race", versions[0])
    stop = threading.Event()
    errors: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            data = store.get("race")
            if data not in versions:
                errors.append(f"torn read of {len(data)} bytes")

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for v in versions[1:] * 3:
        store.put("race", v)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert store.get("race") == versions[-1]


def test_local_put_leaves_no_temp_files(tmp_path: Path) -> None:
    store = LocalDirStore(tmp_path)
    for i in range(5):
        store.put(f"x/{i}", b"data")
    names = sorted(p.name for p in (tmp_path / "x").iterdir())
    assert names == ["0", "1", "2", "3", "4"]
    # a stray temp file from a crashed writer is invisible to list()
    (tmp_path / "x" / ".tmp-crash").write_bytes(b"partial")
    assert store.list("x/") == [f"x/{i}" for i in range(5)]


def test_s3_prefix_isolation(s3_server: S3Server) -> None:  # noqa: F811
    url = s3_server.url("p1")
    a = open_object_store(url)
    b = open_object_store(url.replace("/p1?", "/p2?"))
    assert isinstance(a, S3Store)
    a.put("k", b"a")
    b.put("k", b"b")
    assert a.get("k") == b"a" and b.get("k") == b"b"
    assert a.list("") == ["k"]


def test_open_object_store_urls(tmp_path: Path) -> None:
    assert isinstance(open_object_store(str(tmp_path)), LocalDirStore)
    assert isinstance(open_object_store(f"file://{tmp_path}/sub"), LocalDirStore)
    assert (tmp_path / "sub").is_dir()
    with pytest.raises(ObjectStoreError):
        open_object_store("ftp://x/y")
    with pytest.raises(ObjectStoreError):
        open_object_store("s3://bucket/p?bogus=1")
    with pytest.raises(ObjectStoreError):
        open_object_store("")
