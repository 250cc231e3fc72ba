package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/discret-io/discret/serve/apierr"
)

// A body may not contradict its path. On a route whose body is the whole
// request (HTTP rule body: "*") and whose path names fields too, such as
// PUT /v1/items/{item}, the gateway decodes the body and then sets the
// path's fields from the path: {"item":"B"} sent to /v1/items/A stored A,
// and nobody was told. Here a body that sets a path field to another value
// is refused, naming the field; the same value, or none, is accepted.

// The gateway also reads only what it needs of a body: a body sent to a
// route that takes none was ignored, and so was anything after the first
// JSON value, such as a second object of events, without a word. Both are
// refused here.

// checkBody is a gateway middleware that refuses, before the request goes
// any further, a body on a route that takes none, a body with data after
// its JSON value, and a body that sets a path field to another value than
// the path. The body reaches the handler unchanged. It is already in
// memory, within MaxRequestBytes (Server.bufferBody), and read in place.
func (s *Server) checkBody(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, pathParams map[string]string) {
		rt := routeOf(r)
		if r.Body == nil || r.Body == http.NoBody || rt == nil {
			next(w, r, pathParams)
			return
		}
		var body []byte
		if rb, ok := r.Body.(*requestBody); ok {
			body = rb.unread()
		} else {
			var err error
			body, err = io.ReadAll(r.Body)
			r.Body = newRequestBody(body)
			if err != nil {
				// Not ours to report: the gateway reads the body next.
				next(w, r, pathParams)
				return
			}
		}
		if err := rt.checkBody(body, pathParams); err != nil {
			s.refuse(w, r, apierr.Status(err))
			return
		}
		next(w, r, pathParams)
	}
}

// checkBody returns why the route refuses body, or nil.
func (rt *route) checkBody(body []byte, pathParams map[string]string) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil // an empty body is an empty request
	}
	if !rt.takesBody {
		return wholeBodyError("%s takes none (its parameters are in the path and the query)", rt.display)
	}
	// Valid JSON is one value and nothing after it (no allocation); only
	// an invalid body is decoded, to tell data after a first value from
	// malformed JSON.
	if !json.Valid(body) {
		dec := json.NewDecoder(bytes.NewReader(body))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil // malformed: the gateway reports it
		}
		if end := dec.InputOffset(); len(bytes.TrimSpace(body[end:])) > 0 {
			return wholeBodyError("data after the JSON object that ends at byte %d: send one object per request", end)
		}
	}
	if rt.body != nil {
		if name := rt.body.conflict(body, pathParams); name != "" {
			return conflictError(name)
		}
	}
	return nil
}

// conflict returns the first path parameter, in name order, whose field
// body sets to another value than the path does, or "". A body that does
// not decode as the route's request has no conflict: the gateway reports
// its error.
func (b *bodyRoute) conflict(body []byte, pathParams map[string]string) string {
	got := b.mt.New().Interface()
	// The gateway's decoding, without bodyJSON's search for the error.
	if err := gatewayJSON.JSONPb.NewDecoder(bytes.NewReader(body)).Decode(got); err != nil {
		return ""
	}
	for _, name := range slices.Sorted(maps.Keys(pathParams)) {
		fds, ok := b.fields[name]
		if !ok {
			continue
		}
		v, ok := fieldValue(got.ProtoReflect(), fds)
		if !ok {
			continue // absent or empty in the body
		}
		// The value the gateway would set from the path.
		want := b.mt.New().Interface()
		if err := runtime.PopulateFieldFromPath(want, name, pathParams[name]); err != nil {
			continue // the gateway reports it
		}
		if p, ok := fieldValue(want.ProtoReflect(), fds); !ok || !v.Equal(p) {
			return name
		}
	}
	return ""
}

// fieldValue returns the value of the field at fds in m, and whether m
// sets it (proto3 reads an empty string or a zero as unset).
func fieldValue(m protoreflect.Message, fds []protoreflect.FieldDescriptor) (protoreflect.Value, bool) {
	for i, fd := range fds {
		if !m.Has(fd) {
			return fd.Default(), false
		}
		if i == len(fds)-1 {
			return m.Get(fd), true
		}
		m = m.Get(fd).Message()
	}
	return protoreflect.Value{}, false
}

// conflictError is the error of a body that contradicts the path in field
// name. It gives neither value: either may be a customer id.
func conflictError(name string) *apierr.Error {
	return apierr.Invalid(name, errors.New("the body's "+name+" differs from the path's; leave it out of the body, or give the same value"))
}

// wholeBodyError is an InvalidArgument error about the request body as a
// whole: the message is "request body: " and the formatted text, and the
// BadRequest detail names the field "body".
func wholeBodyError(format string, args ...any) *apierr.Error {
	return invalid("body", "request body: "+fmt.Sprintf(format, args...))
}
