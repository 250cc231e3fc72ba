// Package discretv1 is the generated Go code of the Discret API, version 1:
// protobuf messages, gRPC service stubs and the grpc-gateway REST handlers,
// plus the OpenAPI document. discret.proto is the contract; discret.http.yaml
// maps it to REST. Only packages under serve/ import this one.
//
// Regenerate with `make generate` after editing discret.proto or the YAML
// files; never edit the generated files by hand.
package discretv1

import _ "embed"

//go:generate bash ../../generate.sh

// OpenAPI is the OpenAPI 2.0 (Swagger) description of the REST API, served
// at /openapi.json.
//
//go:embed discret.swagger.json
var OpenAPI []byte
