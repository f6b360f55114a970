"""``python3 -m control.probe KIND HOST:PORT``: one liveness probe (control/liveness.py).

Exit status 0 when the log store node, page server or proxy answered its cheap call within
``--timeout``, 1 when it did not (the reason on stderr), 2 on bad arguments. The rendered
Kubernetes pods run it as their ``livenessProbe`` (control/k8s_render.py) against their own
port: the kubelet restarts a container that stops answering, as the local control plane's
reconciler restarts a process. With ``--tls-dir`` (a pod's internal TLS files) gRPC runs
mutual TLS; a role the server refuses is still an answer.
"""

from __future__ import annotations

import argparse
import sys

from control.liveness import KINDS, ProbeFailed, Prober

DEFAULT_TIMEOUT_S = 5.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m control.probe", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("address", help="host:port of the component")
    parser.add_argument("--tls-dir", default="", help="ca.pem, cert.pem, key.pem for mutual TLS")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds")
    args = parser.parse_args(argv)
    tls = None
    if args.tls_dir and args.kind != "proxy":
        from strata.tls import TlsFiles

        tls = TlsFiles.from_dir(args.tls_dir)
    prober = Prober(tls)
    try:
        prober(args.kind, args.address, args.timeout)
    except ProbeFailed as exc:
        print(f"no answer: {exc}", file=sys.stderr)
        return 1
    finally:
        prober.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
