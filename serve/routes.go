package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
)

// The gateway middlewares (restauth.go, query.go, body.go) check a REST
// request against its route as the OpenAPI document describes it, the
// contract the clients see: the gRPC method the route calls, the query
// parameters it takes and, on a route whose body is the whole request and
// whose path names fields, those fields. The document is read once, when
// the package is initialized, into routes.

// route is what the gateway middlewares know of one REST route.
type route struct {
	display string // method and path as the document writes them: "PUT /v1/items/{item}"
	method  string // full name of the gRPC method it calls: "/discret.v1.AdminService/UpsertItem"
	// input is the method's request type, into which the query is parsed.
	input   protoreflect.MessageType
	queries []string // the query parameters it takes, in the order of the document
	// takesBody is set when the route reads a request body.
	takesBody bool
	body      *bodyRoute // set when the body is the whole request and the path names fields
	// httpMethod, segments and verb are the route's method and path
	// template: ["v1", "customers", "{customer}"] and "export" for
	// "GET /v1/customers/{customer}:export" (see allowedMethods).
	httpMethod string
	segments   []string
	verb       string
}

// bodyRoute is the request type of a route whose body is the whole request
// (HTTP rule body: "*") and the field each of its path parameters names.
type bodyRoute struct {
	mt     protoreflect.MessageType
	fields map[string][]protoreflect.FieldDescriptor // by path parameter: "item", "valid_from.seconds"
}

// routes maps "METHOD /path/{template}" to its route, for every route of
// the embedded OpenAPI document. The keys write a path variable as
// runtime.Pattern.String does, "{customer=*}", so that a request's route
// is found without rewriting its pattern.
var routes = mustRoutes(discretv1.OpenAPI, discretv1.File_discret_v1_discret_proto)

// mustRoutes is parseRoutes for the embedded document and the generated
// descriptors. Both are generated and committed, so a failure is a build
// defect.
func mustRoutes(doc []byte, fd protoreflect.FileDescriptor) map[string]*route {
	m, err := parseRoutes(doc, fd)
	if err != nil {
		panic(fmt.Sprintf("serve: the embedded OpenAPI document: %v", err))
	}
	return m
}

// openAPIDoc is what the middlewares read of an OpenAPI 2.0 document:
// every operation's identifier and parameters, by path and method.
type openAPIDoc struct {
	Paths map[string]map[string]struct {
		OperationID string `json:"operationId"`
		Parameters  []struct {
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"parameters"`
	} `json:"paths"`
}

// parseRoutes reads the routes of an OpenAPI document whose operation ids
// ("Service_Method") name methods of fd.
func parseRoutes(doc []byte, fd protoreflect.FileDescriptor) (map[string]*route, error) {
	var d openAPIDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	if len(d.Paths) == 0 {
		return nil, errors.New("no paths")
	}
	m := make(map[string]*route)
	for path, ops := range d.Paths {
		for method, op := range ops {
			rt := &route{display: strings.ToUpper(method) + " " + path, queries: []string{}, httpMethod: strings.ToUpper(method)}
			rt.segments, rt.verb = splitTemplate(path)
			md, err := methodOf(fd, op.OperationID)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", rt.display, err)
			}
			rt.method = "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
			if rt.input, err = protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName()); err != nil {
				return nil, fmt.Errorf("%s: %w", rt.display, err)
			}
			var params []string
			wholeBody := false
			for _, p := range op.Parameters {
				switch {
				case p.In == "query":
					rt.queries = append(rt.queries, p.Name)
				case p.In == "path":
					params = append(params, p.Name)
				case p.In == "body":
					rt.takesBody = true
					wholeBody = wholeBody || p.Name == "body"
				}
			}
			if wholeBody && len(params) > 0 {
				if rt.body, err = newBodyRoute(rt.input, params); err != nil {
					return nil, fmt.Errorf("%s: %w", rt.display, err)
				}
			}
			m[docRouteKey(method, path)] = rt
		}
	}
	return m, nil
}

// newBodyRoute finds the field of each path parameter in params in the
// request type mt.
func newBodyRoute(mt protoreflect.MessageType, params []string) (*bodyRoute, error) {
	b := &bodyRoute{mt: mt, fields: make(map[string][]protoreflect.FieldDescriptor, len(params))}
	for _, name := range params {
		fds, ok := fieldByPath(mt.Descriptor(), name)
		if !ok {
			return nil, fmt.Errorf("path parameter %s is not a field of %s", name, mt.Descriptor().FullName())
		}
		b.fields[name] = fds
	}
	return b, nil
}

// splitTemplate splits a path template as the OpenAPI document writes it,
// "/v1/apikeys/{id}:revoke", into its segments and its verb ("revoke").
func splitTemplate(path string) (segments []string, verb string) {
	segments = strings.Split(strings.TrimPrefix(path, "/"), "/")
	last := segments[len(segments)-1]
	if i := strings.LastIndexByte(last, ':'); i > strings.LastIndexByte(last, '}') {
		segments[len(segments)-1], verb = last[:i], last[i+1:]
	}
	return segments, verb
}

// matches reports whether a request path, split on its slashes as the
// gateway splits it (raw, escaped), matches the route's template as the
// gateway matches it: literal segments equal, a variable any segment, and
// the verb, if the template has one, a suffix ":verb" of the last segment
// after a non-empty rest.
func (rt *route) matches(components []string) bool {
	if len(components) != len(rt.segments) {
		return false
	}
	for i, seg := range rt.segments {
		c := components[i]
		if i == len(components)-1 && rt.verb != "" {
			rest, ok := strings.CutSuffix(c, ":"+rt.verb)
			if !ok || rest == "" {
				return false
			}
			c = rest
		}
		if !strings.HasPrefix(seg, "{") && c != seg {
			return false
		}
	}
	return true
}

// allowedMethods returns the methods of the routes whose template matches
// r's path, sorted, as an Allow header lists them ("GET, PUT"): the
// methods that the path does take, for a 405 answer (RFC 9110, 15.5.6).
func allowedMethods(r *http.Request) string {
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	components := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var methods []string
	for _, rt := range routes {
		if rt.matches(components) && !slices.Contains(methods, rt.httpMethod) {
			methods = append(methods, rt.httpMethod)
		}
	}
	slices.Sort(methods)
	return strings.Join(methods, ", ")
}

// docRouteKey returns the routes key of a route as the OpenAPI document
// writes it: method "put", path "/v1/items/{item}".
func docRouteKey(method, path string) string {
	return strings.ToUpper(method) + " " + variable.ReplaceAllString(path, "{$1=*}")
}

// variable matches a path variable as the OpenAPI document writes it,
// "{customer}".
var variable = regexp.MustCompile(`\{([^}=]+)\}`)

// methodOf returns the method that the OpenAPI operation id
// "Service_Method" names.
func methodOf(fd protoreflect.FileDescriptor, operationID string) (protoreflect.MethodDescriptor, error) {
	svc, method, ok := strings.Cut(operationID, "_")
	// protoc-gen-openapiv2 numbers the additional bindings of a method:
	// "AdminService_ForgetCustomer2". Method names do not end in a digit.
	method = strings.TrimRight(method, "0123456789")
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

// routeOf returns the route that matched r, or nil for a route the
// document does not describe (the gateway's own rules then apply). Every
// middleware needs it: it is looked up once per request and kept on the
// request's record.
func routeOf(r *http.Request) *route {
	rec := recordFrom(r.Context())
	if rec != nil && rec.routeFound {
		return rec.rt
	}
	p, ok := runtime.HTTPPattern(r.Context())
	if !ok {
		return nil
	}
	rt := routes[r.Method+" "+p.String()]
	if rec != nil {
		rec.rt, rec.routeFound = rt, true
	}
	return rt
}

// refuse answers a request that a gateway middleware turns down, with the
// gateway's error handler (Server.gatewayError): the client gets the
// status as it gets the errors of the gRPC server, and the request is
// logged with its route, the method it was for and the status code, as
// the others are.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, st *status.Status) {
	if rec, rt := recordFrom(r.Context()), routeOf(r); rec != nil && rt != nil {
		rec.route, rec.rpc = rt.display, rt.method
	}
	_, out := runtime.MarshalerForRequest(s.mux, r)
	runtime.HTTPError(r.Context(), s.mux, out, w, r, st.Err())
}
