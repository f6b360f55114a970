#!/usr/bin/env bash
# Regenerate the Python code (messages, typing stubs, gRPC stubs) for every .proto here.
# Run from anywhere: ./strata/proto/generate.sh. Protos are compiled with the repo root as
# include path, so generated modules import each other as `strata.proto.<name>_pb2`.
# Generated files are committed; ruff skips them (pyproject + the noqa line added below).
set -euo pipefail
cd "$(dirname "$0")/../.."
for proto in strata/proto/*.proto; do
  python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. "$proto"
  stub="${proto%.proto}_pb2.pyi"
  { echo "# ruff: noqa"; cat "$stub"; } > "$stub.tmp" && mv "$stub.tmp" "$stub"
done
