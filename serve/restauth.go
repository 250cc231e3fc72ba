package serve

import (
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/metadata"

	"github.com/discret-io/discret/serve/apierr"
	"github.com/discret-io/discret/serve/auth"
)

// A REST request is authorized before anything about it is checked: a
// client without a valid key gets 401, and a key without the scope 403,
// whatever its query or body, so that neither can learn a route's
// parameters or the fields of its request from the 400 messages. A
// customer token is checked here for everything but its customer (its
// MAC, expiry, minting key and the method), since the request is not
// decoded yet. The gRPC server authorizes the call again (one map lookup),
// with the decoded request, and refuses a customer token bound to another
// customer then. Not a byte of the body is read before this: the body is
// read (and decompressed, within its limit) by the next middleware
// (Server.readBody), so that a client without a valid key, or one that
// stalls, makes the server hold none of it.

// authorize is the first gateway middleware: it authorizes the request's
// key or customer token for the route's gRPC method with the server's own
// Keys, as the gRPC server will (but for a token's customer), and answers
// the error itself if it fails.
func (s *Server) authorize(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, pathParams map[string]string) {
		rt := routeOf(r)
		if rt == nil || auth.IsPublic(rt.method) {
			// A route the document does not describe: the gRPC server
			// authorizes it.
			next(w, r, pathParams)
			return
		}
		md := metadata.MD{"authorization": r.Header.Values("Authorization")}
		c, err := s.cfg.Keys.Preauthorize(metadata.NewIncomingContext(r.Context(), md), rt.method)
		if err == nil {
			next(w, r, pathParams)
			return
		}
		if rec := recordFrom(r.Context()); rec != nil {
			// Set for a key without the scope, or a token refused after
			// its MAC was checked.
			rec.caller = c
		}
		s.refuse(w, r, apierr.Status(err))
	}
}
