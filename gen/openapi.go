// Package gen embeds the generated OpenAPI v2 document of the exchange API,
// gen/openapiv2/qiao.swagger.json, so that the gateway serves it at
// /openapi.json from the binary. The generated Go code lives in the packages
// under gen/go; `make generate` rewrites them and the document from api/.
//
// It holds no hand-written API: change the .proto files under api/ and
// regenerate instead.
package gen

import (
	"bytes"
	_ "embed"
)

//go:embed openapiv2/qiao.swagger.json
var openAPI []byte

// OpenAPI returns the OpenAPI v2 (Swagger) document of the exchange API's
// REST mapping, as generated from api/qiao/exchange/v1.
func OpenAPI() []byte { return bytes.Clone(openAPI) }
