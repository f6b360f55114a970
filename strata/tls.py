"""Mutual TLS for the internal gRPC services: a cluster CA, one certificate per component,
gRPC credentials from them, and the peer's role at the RPC boundary.

The role travels in the certificate as a URI subject alternative name
``strata://role/<role>`` (docs/decisions/0008-internal-mtls-roles.md); the common name is
the component's name (for logs only). A component's directory holds ``ca.pem``,
``cert.pem`` and ``key.pem`` (what ``--internal-tls-dir`` points at); the CA's own
directory holds ``ca.pem`` and ``ca-key.pem`` (mode 0600).

Nothing here imports a service.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

ROLES = ("compute", "pageserver", "logstore", "control")
ROLE_URI_PREFIX = "strata://role/"
CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
CA_VALID_DAYS = 3650
CERT_VALID_DAYS = 825
"""Leaf certificates expire after this (the CA outlives many of them); `strata up` issues
new ones when they are within CERT_RENEW_DAYS of it."""
CERT_RENEW_DAYS = 30
SAN_HOSTS = ("localhost",)
SAN_IPS = ("127.0.0.1", "::1")


class TlsError(Exception):
    """TLS material is missing, unreadable or not what it should be."""


@dataclass(frozen=True)
class TlsFiles:
    """The three PEM files a component needs: the cluster CA, its certificate, its key."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def from_dir(cls, directory: str | os.PathLike[str]) -> TlsFiles:
        """The files of an ``--internal-tls-dir``; TlsError naming the first one missing."""
        d = Path(directory)
        files = cls(d / CA_FILE, d / CERT_FILE, d / KEY_FILE)
        for p in (files.ca, files.cert, files.key):
            if not p.is_file():
                raise TlsError(f"{p} is missing (an internal TLS dir holds {CA_FILE}, {CERT_FILE}, {KEY_FILE})")
        return files

    def read(self) -> tuple[bytes, bytes, bytes]:
        """(ca, cert, key) PEM bytes."""
        try:
            return self.ca.read_bytes(), self.cert.read_bytes(), self.key.read_bytes()
        except OSError as exc:
            raise TlsError(f"reading TLS files: {exc}") from exc


# ---- issuing ------------------------------------------------------------------------------


def _write(path: Path, data: bytes, mode: int) -> None:
    """Atomic write with ``mode`` from the start (a key is never world-readable)."""
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _new_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))


def _host_names(hosts: Sequence[str]) -> list[Any]:
    """SubjectAlternativeName entries: localhost, the loopback IPs and ``hosts``."""
    from cryptography import x509

    out: list[Any] = []
    for h in (*SAN_HOSTS, *SAN_IPS, *hosts):
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            out.append(x509.DNSName(h))
    return out


def create_ca(directory: str | os.PathLike[str], name: str = "strata cluster CA") -> Path:
    """A new self-signed CA in ``directory`` (ca.pem, ca-key.pem 0600) unless one is there;
    returns the path of ca.pem."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    if (d / CA_FILE).is_file() and (d / CA_KEY_FILE).is_file():
        return d / CA_FILE
    key = _new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(d / CA_KEY_FILE, _key_pem(key), 0o600)
    _write(d / CA_FILE, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return d / CA_FILE


def issue_cert(ca_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], component_name: str,
               role: str, hosts: Sequence[str] = ()) -> TlsFiles:
    """Sign a certificate for ``component_name`` with ``role`` (URI SAN strata://role/<role>)
    into ``out_dir`` (ca.pem, cert.pem, key.pem 0600). It serves as both server and client
    certificate; SANs are localhost, 127.0.0.1, ::1 and ``hosts`` (names or IPs)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if role not in ROLES:
        raise TlsError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    ca = Path(ca_dir)
    try:
        ca_pem = (ca / CA_FILE).read_bytes()
        ca_cert = x509.load_pem_x509_certificate(ca_pem)
        ca_key = serialization.load_pem_private_key((ca / CA_KEY_FILE).read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise TlsError(f"cannot load the CA in {ca}: {exc}") from exc
    key = _new_key()
    sans = [x509.UniformResourceIdentifier(ROLE_URI_PREFIX + role), *_host_names(hosts)]
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, component_name[:64])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                              ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    _write(out / KEY_FILE, _key_pem(key), 0o600)
    _write(out / CERT_FILE, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(out / CA_FILE, ca_pem, 0o644)
    return TlsFiles(out / CA_FILE, out / CERT_FILE, out / KEY_FILE)


def ensure_cert(ca_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], component_name: str,
                role: str) -> TlsFiles:
    """The component's files, issued if missing, for another role, from another CA, or
    within CERT_RENEW_DAYS of expiry (idempotent: `strata up` calls it every start)."""
    from cryptography import x509

    out = Path(out_dir)
    try:
        files = TlsFiles.from_dir(out)
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        same_ca = files.ca.read_bytes() == (Path(ca_dir) / CA_FILE).read_bytes()
        fresh = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC) > datetime.timedelta(
            days=CERT_RENEW_DAYS)
        if same_ca and fresh and role_of_cert(cert) == role:
            return files
    except (TlsError, OSError, ValueError):
        pass
    return issue_cert(ca_dir, out, component_name, role)


def ensure_component(tls_root: str | os.PathLike[str], component_name: str, role: str) -> TlsFiles:
    """A cluster's layout: the CA in ``tls_root`` (ca.pem, ca-key.pem), created on first
    use, and each component's files in ``tls_root/<component_name>/``."""
    if not component_name or "/" in component_name or component_name.startswith("."):
        raise TlsError(f"bad component name {component_name!r}")
    create_ca(tls_root)
    return ensure_cert(tls_root, Path(tls_root) / component_name, component_name, role)


def role_of_cert(cert: Any) -> str:
    """The role in a certificate's URI SAN, or "" if it has none."""
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ""
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(ROLE_URI_PREFIX) and uri[len(ROLE_URI_PREFIX):] in ROLES:
            return str(uri[len(ROLE_URI_PREFIX):])
    return ""


# ---- gRPC credentials -----------------------------------------------------------------------


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """Server credentials that require a client certificate signed by the cluster CA (the
    same object serves ``grpc.server`` and ``grpc.aio.server``)."""
    ca, cert, key = files.read()
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=True)


def add_listen_port(server: grpc.Server | grpc.aio.Server, listen: str, tls: TlsFiles | None,
                    service: str) -> int:
    """Bind ``server`` to ``listen`` (mutual TLS when ``tls``), the port it got; a port that
    cannot be bound (taken, or an address not on this machine) ends the process with one
    line on stderr and exit status 1, not a traceback (grpcio raises RuntimeError there,
    older versions returned 0)."""
    try:
        if tls is not None:
            port = server.add_secure_port(listen, server_credentials(tls))
        else:
            port = server.add_insecure_port(listen)
    except RuntimeError:
        port = 0
    if port == 0:
        raise SystemExit(f"{service}: cannot listen on {listen}: the address is in use or not "
                         "on this machine")
    return int(port)


def channel_credentials(files: TlsFiles) -> grpc.ChannelCredentials:
    """Client credentials: trust only the cluster CA, present this component's certificate
    (for sync and aio channels alike)."""
    ca, cert, key = files.read()
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)


_client_lock = threading.Lock()
_client_files: TlsFiles | None = None
_client_creds: grpc.ChannelCredentials | None = None


def set_client_tls(files: TlsFiles | None) -> None:
    """This process's identity for every internal gRPC channel it opens (a service sets it
    once at start from its flags; None: plaintext). Clients may also be given ``tls=``."""
    global _client_files, _client_creds
    creds = channel_credentials(files) if files is not None else None
    with _client_lock:
        _client_files, _client_creds = files, creds


def client_tls() -> TlsFiles | None:
    return _client_files


def _creds(tls: TlsFiles | None) -> grpc.ChannelCredentials | None:
    if tls is not None:
        return channel_credentials(tls)
    return _client_creds


def channel(addr: str, options: Sequence[tuple[str, Any]] = (), tls: TlsFiles | None = None) -> grpc.Channel:
    """A blocking channel to an internal service: mTLS with ``tls`` or the process's
    identity (set_client_tls), else plaintext."""
    creds = _creds(tls)
    if creds is None:
        return grpc.insecure_channel(addr, options=list(options))
    return grpc.secure_channel(addr, creds, options=list(options))


def aio_channel(addr: str, options: Sequence[tuple[str, Any]] = (), tls: TlsFiles | None = None) -> grpc.aio.Channel:
    """The asyncio twin of ``channel``."""
    creds = _creds(tls)
    if creds is None:
        return grpc.aio.insecure_channel(addr, options=list(options))
    return grpc.aio.secure_channel(addr, creds, options=list(options))


# ---- the peer's role -------------------------------------------------------------------------

def peer_role(context: Any) -> str:
    """The role in the verified client certificate of this call (``context`` is a sync or
    aio ServicerContext), or "" if there is none (plaintext, or no role SAN). gRPC lists the
    certificate's URI SANs as ``peer_uri`` (all SANs as ``x509_subject_alternative_name``);
    the handshake has already checked the chain to the cluster CA."""
    auth = context.auth_context() or {}
    for value in (*auth.get("peer_uri", ()), *auth.get("x509_subject_alternative_name", ())):
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
        if text.startswith(ROLE_URI_PREFIX) and text[len(ROLE_URI_PREFIX):] in ROLES:
            return text[len(ROLE_URI_PREFIX):]
    return ""


@dataclass(frozen=True)
class RolePolicy:
    """Which roles may call each RPC of one service. ``enforce`` is False on a plaintext
    server (``--insecure``): there is no verified identity to check."""

    service: str
    allowed: dict[str, frozenset[str]]
    enforce: bool = True

    def refusal(self, method: str, context: Any) -> str | None:
        """None if the caller may call ``method``, else the PERMISSION_DENIED message."""
        if not self.enforce:
            return None
        role = peer_role(context)
        allowed = self.allowed.get(method, frozenset())
        if role in allowed:
            return None
        who = f"role {role!r}" if role else "a peer without a strata role certificate"
        return (f"{self.service}.{method} refused for {who}: allowed roles are "
                f"{', '.join(sorted(allowed)) or 'none'}")


def policy(service: str, table: Mapping[str, Sequence[str]], enforce: bool) -> RolePolicy:
    for roles in table.values():
        bad = [r for r in roles if r not in ROLES]
        assert not bad, bad
    return RolePolicy(service, {m: frozenset(r) for m, r in table.items()}, enforce)


# ---- service flags ------------------------------------------------------------------------------

TLS_DIR_FLAG = "--internal-tls-dir"
INSECURE_FLAG = "--insecure"


def from_flags(tls_dir: str | os.PathLike[str] | None, insecure: bool, role: str) -> TlsFiles | None:
    """The TLS files of a service started with ``--internal-tls-dir DIR`` (checked: they
    load, and the certificate carries ``role``), or None with ``--insecure``. Raises
    TlsError with a one-line message if neither or both are given: a service never falls
    back to plaintext silently."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if tls_dir and insecure:
        raise TlsError(f"{TLS_DIR_FLAG} and {INSECURE_FLAG} exclude each other")
    if insecure:
        return None
    if not tls_dir:
        raise TlsError(f"internal gRPC needs {TLS_DIR_FLAG} DIR ({CA_FILE}, {CERT_FILE}, {KEY_FILE}; "
                       f"`strata up` makes them) or {INSECURE_FLAG} for plaintext")
    files = TlsFiles.from_dir(tls_dir)
    ca, cert_pem, key = files.read()
    try:
        x509.load_pem_x509_certificate(ca)
        cert = x509.load_pem_x509_certificate(cert_pem)
        serialization.load_pem_private_key(key, password=None)
    except ValueError as exc:
        raise TlsError(f"{tls_dir}: not a usable CA/certificate/key: {exc}") from exc
    found = role_of_cert(cert)
    if found != role:
        raise TlsError(f"{files.cert} carries role {found or 'none'!r}, this service needs {role!r} "
                       f"(URI SAN {ROLE_URI_PREFIX}{role})")
    return files


def ensure_server_cert(directory: str | os.PathLike[str], common_name: str,
                       hosts: Sequence[str] = ()) -> tuple[Path, Path]:
    """A self-signed server certificate for a client-facing endpoint (the proxy's TLS):
    (cert.pem, key.pem 0600) in ``directory``, made once. Not signed by the cluster CA on
    purpose: its key must grant nothing on the internal services."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    d = Path(directory)
    cert_path, key_path = d / CERT_FILE, d / KEY_FILE
    if cert_path.is_file() and key_path.is_file():
        return cert_path, key_path
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    sans = _host_names(hosts)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(key_path, _key_pem(key), 0o600)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert_path, key_path
