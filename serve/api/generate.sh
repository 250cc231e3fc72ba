#!/usr/bin/env bash
# Regenerates the Go code and the OpenAPI document of the Discret API from
# discret/v1/discret.proto, discret/v1/discret.http.yaml (the REST mapping)
# and discret/v1/discret.openapi.yaml (document options).
#
#   generate.sh [OUTDIR]    write into OUTDIR/discret/v1 (default: this tree)
#
# Run it through `make generate` (go generate ./serve/api/...). It works
# offline: the compiler is Debian's protoc (installed with apt-get if absent)
# and the plugins are the versions pinned by the `tool` block of go.mod,
# built from the module cache.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
mkdir -p "$out/discret/v1"
out=$(cd "$out" && pwd)

# The compiler is pinned: its version is written into the generated files.
want="libprotoc 3.21.12"
if ! command -v protoc >/dev/null || [ ! -f /usr/include/google/protobuf/timestamp.proto ]; then
	echo "generate.sh: installing protoc from apt (protobuf-compiler, libprotobuf-dev)" >&2
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get install -y --no-install-recommends protobuf-compiler libprotobuf-dev >&2 ||
		{ $sudo apt-get update >&2 && $sudo apt-get install -y --no-install-recommends protobuf-compiler libprotobuf-dev >&2; }
fi
have=$(protoc --version)
if [ "$have" != "$want" ]; then
	echo "generate.sh: need $want (Debian bookworm's protobuf-compiler), found $have" >&2
	exit 1
fi

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
# go.mod's tool block pins these; go build resolves them from it.
(cd "$here" && go build -o "$bin/" \
	google.golang.org/protobuf/cmd/protoc-gen-go \
	google.golang.org/grpc/cmd/protoc-gen-go-grpc \
	github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway \
	github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2)

cd "$here"
http=discret/v1/discret.http.yaml
protoc \
	-I . -I /usr/include \
	--plugin=protoc-gen-go="$bin/protoc-gen-go" \
	--plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" \
	--plugin=protoc-gen-grpc-gateway="$bin/protoc-gen-grpc-gateway" \
	--plugin=protoc-gen-openapiv2="$bin/protoc-gen-openapiv2" \
	--go_out="$out" --go_opt=paths=source_relative \
	--go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
	--grpc-gateway_out="$out" --grpc-gateway_opt=paths=source_relative \
	--grpc-gateway_opt=grpc_api_configuration="$http" \
	--grpc-gateway_opt=generate_unbound_methods=false \
	--openapiv2_out="$out" \
	--openapiv2_opt=grpc_api_configuration="$http" \
	--openapiv2_opt=openapi_configuration=discret/v1/discret.openapi.yaml \
	--openapiv2_opt=json_names_for_fields=false \
	--openapiv2_opt=openapi_naming_strategy=simple \
	--openapiv2_opt=preserve_rpc_order=true \
	--openapiv2_opt=disable_default_errors=false \
	discret/v1/discret.proto
