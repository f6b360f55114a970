"""Object storage: one small synchronous interface, two back ends (local directory, S3).

Page servers upload layer files and manifests here; log stores offload sealed segments.
Objects are immutable blobs addressed by ``/``-separated keys. ``put`` is atomic: a reader
sees either the whole new object or none (local: temp file + fsync + rename + dir fsync;
S3: a single PUT is atomic by design). Callers that need concurrency use threads.

URLs accepted by :func:`open_object_store`:

- ``/some/path`` or ``file:///some/path`` — a local directory (created if missing).
- ``s3://bucket/prefix?endpoint_url=http://127.0.0.1:9000&region=us-east-1`` — S3 or any
  S3-compatible endpoint; credentials come from the usual ``AWS_*`` environment variables.
"""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qs, unquote, urlparse

from tenacity import (
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

StrList = list[str]
"""``list[str]`` spelled so class bodies that define a ``list`` method can still name it."""

__all__ = [
    "ObjectNotFound",
    "ObjectStore",
    "ObjectStoreError",
    "LocalDirStore",
    "S3Store",
    "open_object_store",
]


class ObjectNotFound(Exception):
    """The key does not exist in the store."""


class ObjectStoreError(Exception):
    """The store is misconfigured or a key is invalid."""


@runtime_checkable
class ObjectStore(Protocol):
    """A flat key → bytes store with atomic puts (see module docstring)."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes:
        """Return the object's bytes; raise ObjectNotFound if it does not exist."""
        ...

    def list(self, prefix: str) -> StrList:
        """All keys starting with ``prefix``, sorted."""
        ...

    def delete(self, key: str) -> None:
        """Remove the key; a missing key is not an error."""
        ...

    def exists(self, key: str) -> bool: ...


def _check_key(key: str) -> str:
    """Reject keys that could escape the root or collide with temp files."""
    if not key or key.startswith("/") or key.endswith("/"):
        raise ObjectStoreError(f"invalid object key {key!r}")
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts) or "\x00" in key:
        raise ObjectStoreError(f"invalid object key {key!r}")
    if any(p.startswith(".tmp-") for p in parts):
        raise ObjectStoreError(f"object key {key!r} uses the reserved '.tmp-' prefix")
    return key


def _transient(exc: BaseException) -> bool:
    """Errors worth retrying: I/O hiccups and S3 5xx/throttling, never 'not found'."""
    if isinstance(exc, (ObjectNotFound, ObjectStoreError)):
        return False
    try:
        from botocore.exceptions import ClientError
    except ImportError:  # pragma: no cover - boto3 is a dependency
        ClientError = ()  # type: ignore[assignment,misc]
    if ClientError and isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return status >= 500 or code in ("SlowDown", "Throttling", "RequestTimeout")
    return isinstance(exc, (OSError, ConnectionError, TimeoutError)) or (
        type(exc).__module__.startswith(("botocore", "urllib3"))
    )


_upload_retry = retry(
    reraise=True,
    retry=retry_if_exception(_transient),
    stop=stop_after_attempt(6),
    wait=wait_exponential(multiplier=0.05, max=2.0),
)


class LocalDirStore:
    """Objects as files under ``root``; keys map to relative paths."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalDirStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*_check_key(key).split("/"))

    @_upload_retry
    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None

    def list(self, prefix: str) -> StrList:
        keys: StrList = []
        # Walk only the deepest directory that the prefix fully names.
        dir_part = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root.joinpath(*dir_part.split("/")) if dir_part else self.root
        if not start.is_dir():
            return []
        for dirpath, _dirs, files in os.walk(start):
            rel_dir = os.path.relpath(dirpath, self.root)
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                key = name if rel_dir == "." else f"{rel_dir.replace(os.sep, '/')}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        keys.sort()
        return keys

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


class S3Store:
    """Objects in an S3 bucket under ``prefix``; one boto3 client shared across threads."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        create_bucket: bool = False,
    ) -> None:
        import boto3
        from botocore.config import Config

        if not bucket:
            raise ObjectStoreError("S3 bucket name is empty")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
                max_pool_connections=32,
            ),
        )
        self._lock = threading.Lock()
        if create_bucket:
            self._ensure_bucket(region)

    def __repr__(self) -> str:
        return f"S3Store(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _ensure_bucket(self, region: str | None) -> None:
        from botocore.exceptions import ClientError

        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError:
            kwargs: dict[str, Any] = {"Bucket": self.bucket}
            if region and region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            try:
                self._client.create_bucket(**kwargs)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def _key(self, key: str) -> str:
        return self.prefix + _check_key(key)

    @_upload_retry
    def put(self, key: str, data: bytes) -> None:
        self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    @_upload_retry
    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            resp = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise ObjectNotFound(key) from None
            raise
        body: bytes = resp["Body"].read()
        return body

    @_upload_retry
    def list(self, prefix: str) -> StrList:
        keys: StrList = []
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for obj in page.get("Contents", []):
                keys.append(obj["Key"][len(self.prefix) :])
        keys.sort()
        return keys

    @_upload_retry
    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self._key(key))

    @_upload_retry
    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True


def open_object_store(url: str) -> ObjectStore:
    """Open a store from a URL: a path, ``file:///path`` or ``s3://bucket/prefix?...``.

    S3 query parameters: ``endpoint_url``, ``region``, ``create_bucket=1`` (tests, local
    S3 servers).
    """
    if not url:
        raise ObjectStoreError("empty object store URL")
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        path = unquote(parsed.path) if parsed.scheme == "file" else url
        if parsed.scheme == "file" and parsed.netloc not in ("", "localhost"):
            raise ObjectStoreError(f"file URL with a host is not supported: {url!r}")
        return LocalDirStore(path)
    if parsed.scheme == "s3":
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        unknown = set(query) - {"endpoint_url", "region", "create_bucket"}
        if unknown:
            raise ObjectStoreError(f"unknown S3 URL parameters: {sorted(unknown)}")
        return S3Store(
            bucket=parsed.netloc,
            prefix=unquote(parsed.path).lstrip("/"),
            endpoint_url=query.get("endpoint_url"),
            region=query.get("region"),
            create_bucket=query.get("create_bucket", "0").lower() in ("1", "true", "yes"),
        )
    raise ObjectStoreError(f"unsupported object store URL scheme {parsed.scheme!r} in {url!r}")


def unique_suffix() -> str:
    """A random suffix for object names that must never collide (layer files)."""
    return uuid.uuid4().hex[:12]
