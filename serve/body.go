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
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
)

// A body may not contradict its path. On a route whose body is the whole
// request (HTTP rule body: "*") and whose path names fields too, such as
// PUT /v1/items/{item}, the gateway decodes the body and then sets the
// path's fields from the path: {"item":"B"} sent to /v1/items/A stored A,
// and nobody was told. Here a body that sets a path field to another value
// is refused, naming the field; the same value, or none, is accepted.

// bodyRoutes maps the routeQueries key of every route whose body is the
// whole request and whose path has parameters to its request type. The
// routes are read from the OpenAPI document, where such a route has a body
// parameter named "body" and path parameters.
var bodyRoutes = mustBodyRoutes(discretv1.OpenAPI, discretv1.File_discret_v1_discret_proto)

// mustBodyRoutes is parseBodyRoutes for the embedded document and the
// generated descriptors: a failure is a build defect.
func mustBodyRoutes(doc []byte, fd protoreflect.FileDescriptor) map[string]protoreflect.MessageType {
	m, err := parseBodyRoutes(doc, fd)
	if err != nil {
		panic(fmt.Sprintf("serve: the embedded OpenAPI document: %v", err))
	}
	return m
}

func parseBodyRoutes(doc []byte, fd protoreflect.FileDescriptor) (map[string]protoreflect.MessageType, error) {
	var d openAPIDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	m := make(map[string]protoreflect.MessageType)
	for path, ops := range d.Paths {
		for method, op := range ops {
			var params []string
			wholeBody := false
			for _, p := range op.Parameters {
				switch {
				case p.In == "path":
					params = append(params, p.Name)
				case p.In == "body" && p.Name == "body":
					wholeBody = true
				}
			}
			if !wholeBody || len(params) == 0 {
				continue
			}
			mt, err := requestType(fd, op.OperationID)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", strings.ToUpper(method), path, err)
			}
			for _, name := range params {
				if _, ok := fieldByPath(mt.Descriptor(), name); !ok {
					return nil, fmt.Errorf("%s %s: path parameter %s is not a field of %s", strings.ToUpper(method), path, name, mt.Descriptor().FullName())
				}
			}
			m[docRouteKey(method, path)] = mt
		}
	}
	return m, nil
}

// requestType returns the request type of the method that the OpenAPI
// operation id "Service_Method" names.
func requestType(fd protoreflect.FileDescriptor, operationID string) (protoreflect.MessageType, error) {
	md, err := methodOf(fd, operationID)
	if err != nil {
		return nil, err
	}
	return protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
}

// methodOf returns the method that the OpenAPI operation id
// "Service_Method" names.
func methodOf(fd protoreflect.FileDescriptor, operationID string) (protoreflect.MethodDescriptor, error) {
	svc, method, ok := strings.Cut(operationID, "_")
	if !ok {
		return nil, fmt.Errorf("operation id %q is not Service_Method", operationID)
	}
	sd := fd.Services().ByName(protoreflect.Name(svc))
	if sd == nil {
		return nil, fmt.Errorf("operation id %q: no service %s in %s", operationID, svc, fd.Path())
	}
	md := sd.Methods().ByName(protoreflect.Name(method))
	if md == nil {
		return nil, fmt.Errorf("operation id %q: no method %s in %s", operationID, method, sd.FullName())
	}
	return md, nil
}

// fieldByPath returns the field that a path parameter names, "item" or
// "parent.name", found as the gateway finds it: by proto name, else by
// JSON name.
func fieldByPath(md protoreflect.MessageDescriptor, path string) ([]protoreflect.FieldDescriptor, bool) {
	var fds []protoreflect.FieldDescriptor
	for i, name := range strings.Split(path, ".") {
		if i > 0 {
			prev := fds[i-1]
			if prev.Message() == nil || prev.IsList() || prev.IsMap() {
				return nil, false
			}
			md = prev.Message()
		}
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			fd = md.Fields().ByJSONName(name)
		}
		if fd == nil {
			return nil, false
		}
		fds = append(fds, fd)
	}
	return fds, true
}

// checkBody is a gateway middleware that refuses a request whose body sets
// a path field to another value than the path, before the request goes
// any further. The body reaches the handler unchanged. It is already in
// memory, within MaxRequestBytes (Server.readBody), so reading it again
// costs a copy, on the few routes concerned.
func checkBody(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, pathParams map[string]string) {
		if len(pathParams) == 0 || r.Body == nil || r.Body == http.NoBody {
			next(w, r, pathParams)
			return
		}
		key, _ := routeKey(r)
		mt, ok := bodyRoutes[key]
		if !ok {
			next(w, r, pathParams)
			return
		}
		body, err := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			// Not ours to report: the gateway reads the body next.
			next(w, r, pathParams)
			return
		}
		if name := bodyConflict(mt, body, pathParams); name != "" {
			if rec := recordFrom(r.Context()); rec != nil {
				rec.route = displayRoute(key) // as annotate records it
			}
			writeStatus(w, apierr.Status(conflictError(name)))
			return
		}
		next(w, r, pathParams)
	}
}

// bodyConflict returns the first path parameter, in name order, whose field
// body sets to another value than the path does, or "". A body that does
// not decode as a request of type mt has no conflict: the gateway reports
// its error.
func bodyConflict(mt protoreflect.MessageType, body []byte, pathParams map[string]string) string {
	got := mt.New().Interface()
	if err := jsonMarshaler().NewDecoder(bytes.NewReader(body)).Decode(got); err != nil {
		return ""
	}
	for _, name := range slices.Sorted(maps.Keys(pathParams)) {
		fds, ok := fieldByPath(mt.Descriptor(), name)
		if !ok {
			continue
		}
		b, ok := fieldValue(got.ProtoReflect(), fds)
		if !ok {
			continue // absent or empty in the body
		}
		// The value the gateway would set from the path.
		want := mt.New().Interface()
		if err := runtime.PopulateFieldFromPath(want, name, pathParams[name]); err != nil {
			continue // the gateway reports it
		}
		if p, ok := fieldValue(want.ProtoReflect(), fds); !ok || !b.Equal(p) {
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

// writeStatus writes st as the gateway writes the errors of the gRPC
// server: the HTTP status of its code and the status as JSON, details
// included.
func writeStatus(w http.ResponseWriter, st *status.Status) {
	buf, err := jsonMarshaler().Marshal(st.Proto())
	if err != nil {
		writeJSONError(w, runtime.HTTPStatusFromCode(st.Code()), st.Code(), st.Message())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	w.Write(buf)
}
