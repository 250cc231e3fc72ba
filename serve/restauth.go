package serve

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/reflect/protoreflect"

	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
	"github.com/discret-io/discret/serve/auth"
)

// A REST request is authorized before anything about it is checked: a
// client without a valid key gets 401, and a key without the scope 403,
// whatever its query or body, so that neither can learn a route's
// parameters or the fields of its request from the 400 messages. The
// gRPC server authorizes the call again (one map lookup); the limit on
// the body's size is enforced before this, since the body is read before
// routing (Server.readBody).

// routeMethods maps the routeQueries key of every REST route to the full
// name of the gRPC method it calls, read from the operation ids of the
// OpenAPI document.
var routeMethods = mustRouteMethods(discretv1.OpenAPI, discretv1.File_discret_v1_discret_proto)

func mustRouteMethods(doc []byte, fd protoreflect.FileDescriptor) map[string]string {
	m, err := parseRouteMethods(doc, fd)
	if err != nil {
		panic(fmt.Sprintf("serve: the embedded OpenAPI document: %v", err))
	}
	return m
}

func parseRouteMethods(doc []byte, fd protoreflect.FileDescriptor) (map[string]string, error) {
	var d openAPIDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	m := make(map[string]string)
	for path, ops := range d.Paths {
		for method, op := range ops {
			md, err := methodOf(fd, op.OperationID)
			if err != nil {
				return nil, err
			}
			m[docRouteKey(method, path)] = "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
		}
	}
	return m, nil
}

// authorize is the first gateway middleware: it authorizes the request's
// key for the route's gRPC method with the server's own Keys, as the gRPC
// server will, and answers the error itself if it fails.
func (s *Server) authorize(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, pathParams map[string]string) {
		key, _ := routeKey(r)
		method, ok := routeMethods[key]
		if !ok || auth.IsPublic(method) {
			// A route the document does not describe: the gRPC server
			// authorizes it.
			next(w, r, pathParams)
			return
		}
		md := metadata.MD{"authorization": r.Header.Values("Authorization")}
		k, err := s.cfg.Keys.Authorize(metadata.NewIncomingContext(r.Context(), md), method)
		if err == nil {
			next(w, r, pathParams)
			return
		}
		st := apierr.Status(err)
		if rec := recordFrom(r.Context()); rec != nil {
			rec.route = displayRoute(key) // as annotate records it
			rec.rpc = method
			rec.code = st.Code().String()
			rec.keyID, rec.keyName = k.ID, k.Name // set for a key without the scope
		}
		if st.Code() == codes.Unauthenticated {
			w = &challengeWriter{ResponseWriter: w}
		}
		writeStatus(w, st)
	}
}

// checkUTF8 is a gateway middleware that refuses a path or query that is
// not valid UTF-8 (see invalidUTF8).
func checkUTF8(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, pathParams map[string]string) {
		if msg := invalidUTF8(r.URL); msg != "" {
			refuseBadRequest(w, r, msg)
			return
		}
		next(w, r, pathParams)
	}
}
