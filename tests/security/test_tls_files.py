"""strata.tls's files: key modes, the role in the certificate, reissue only when needed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509

from strata.tls import TlsError, create_ca, ensure_cert, ensure_component, issue_cert, role_of_cert


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_layout_modes_and_role(tmp_path: Path) -> None:
    files = ensure_component(tmp_path / "tls", "pageserver-1", "pageserver")
    assert mode(tmp_path / "tls" / "ca-key.pem") == 0o600
    assert mode(files.key) == 0o600
    assert files.cert.parent == tmp_path / "tls" / "pageserver-1"
    assert files.ca.read_bytes() == (tmp_path / "tls" / "ca.pem").read_bytes()
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    assert role_of_cert(cert) == "pageserver"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "strata://role/pageserver" in san.get_values_for_type(x509.UniformResourceIdentifier)
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)][:1] == ["127.0.0.1"]
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    cert.verify_directly_issued_by(ca)


def test_ensure_keeps_a_good_cert_and_reissues_a_wrong_one(tmp_path: Path) -> None:
    create_ca(tmp_path / "ca")
    first = ensure_cert(tmp_path / "ca", tmp_path / "c", "c", "compute")
    again = ensure_cert(tmp_path / "ca", tmp_path / "c", "c", "compute")
    assert again.cert.read_bytes() == first.cert.read_bytes()
    ca_before = (tmp_path / "ca" / "ca.pem").read_bytes()
    create_ca(tmp_path / "ca")  # idempotent: the CA is not replaced
    assert (tmp_path / "ca" / "ca.pem").read_bytes() == ca_before
    other_role = ensure_cert(tmp_path / "ca", tmp_path / "c", "c", "control")
    cert = x509.load_pem_x509_certificate(other_role.cert.read_bytes())
    assert role_of_cert(cert) == "control"


def test_bad_role_and_missing_ca(tmp_path: Path) -> None:
    create_ca(tmp_path / "ca")
    with pytest.raises(TlsError, match="role must be one of"):
        issue_cert(tmp_path / "ca", tmp_path / "x", "x", "admin")
    with pytest.raises(TlsError, match="cannot load the CA"):
        issue_cert(tmp_path / "nosuch", tmp_path / "x", "x", "compute")
