"""Run real psql (15) meta-commands against Strata and PostgreSQL and compare what they print."""

from __future__ import annotations

import re
import subprocess

PSQL = "/usr/bin/psql"


def psql(dsn: str, command: str, *, unaligned: bool = True) -> str:
    """`psql -X -A -F'|' -c command` output (stdout + stderr, so errors show up in diffs)."""
    args = [PSQL, "-X", "-v", "ON_ERROR_STOP=1", "-d", dsn]
    if unaligned:
        args += ["-A", "-F", "|"]
    args += ["-c", command]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60,
                          env={"PGCONNECT_TIMEOUT": "10", "PATH": "/usr/bin:/bin"})
    return done.stdout + done.stderr


def run_script(dsn: str, sql: str) -> None:
    done = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn], input=sql,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


_SIZE = re.compile(r"\|\d+ (bytes|kB|MB)\|")


def normalize(output: str, *, sizes: bool = False) -> list[str]:
    """Lines of output; with ``sizes`` the Size column of \\dt+/\\di+/\\ds+ is blanked (storage differs)."""
    lines = output.rstrip("\n").split("\n")
    if sizes:
        lines = [_SIZE.sub("|<size>|", line) for line in lines]
    return lines
