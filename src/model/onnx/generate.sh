#!/usr/bin/env bash
# Regenerates onnx_pb.ts (ONNX's schema as @bufbuild/protobuf code) from onnx.proto, the schema of
# ONNX v1.20.1 (onnx/onnx.proto of that release, unchanged). buf and protoc-gen-es come from npm at
# pinned versions; the runtime imports are then pinned as npm: specifiers, so the generated module
# works imported from a URL (no import map).
set -euo pipefail
cd "$(dirname "$0")"
PROTOBUF=2.17.0 # npm:@bufbuild/protobuf, the runtime the generated code needs (same version)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/proto/onnx"
cp onnx.proto "$tmp/proto/onnx/onnx.proto"
cat >"$tmp/buf.gen.yaml" <<YAML
version: v2
plugins:
  - local: protoc-gen-es
    out: gen
    opt: [target=ts, import_extension=ts]
YAML
(cd "$tmp" && npx -y -p @bufbuild/buf@1.75.0 -p "@bufbuild/protoc-gen-es@$PROTOBUF" buf generate proto)
sed -e "s#\"@bufbuild/protobuf/codegenv2\"#\"npm:@bufbuild/protobuf@$PROTOBUF/codegenv2\"#" \
  -e "s#\"@bufbuild/protobuf\"#\"npm:@bufbuild/protobuf@$PROTOBUF\"#" \
  "$tmp/gen/onnx/onnx_pb.ts" >onnx_pb.ts
deno fmt -q onnx_pb.ts
echo "wrote $(pwd)/onnx_pb.ts"
