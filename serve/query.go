package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
)

// Query strings are checked strictly. The gateway by itself ignores a
// query parameter it does not know, so "?categroy=shoes" would answer with
// items of every category and "DELETE …?dry_run=true" would erase; it also
// answers a malformed number with the raw strconv message. Here a
// parameter that the route does not take is refused with the list of those
// it does take (read from the OpenAPI document, the contract the clients
// see), and a value that does not parse is refused with its parameter and
// the type expected.

// routeQueries maps "METHOD /path/{template}" to the query parameters the
// route takes, in the order of the OpenAPI document. Every REST route has
// an entry. The keys write a path variable as runtime.Pattern.String does,
// "{customer=*}", so that a request's route is found without rewriting its
// pattern.
var routeQueries = mustRouteQueries(discretv1.OpenAPI)

// mustRouteQueries reads the query parameters of every route from an
// OpenAPI 2.0 document. The document is generated and committed, so a
// failure is a build defect.
func mustRouteQueries(doc []byte) map[string][]string {
	m, err := parseRouteQueries(doc)
	if err != nil {
		panic(fmt.Sprintf("serve: the embedded OpenAPI document: %v", err))
	}
	return m
}

// openAPIDoc is what the request checks read of the OpenAPI document:
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

func parseRouteQueries(doc []byte) (map[string][]string, error) {
	var d openAPIDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	if len(d.Paths) == 0 {
		return nil, errors.New("no paths")
	}
	m := make(map[string][]string)
	for path, ops := range d.Paths {
		for method, op := range ops {
			names := []string{}
			for _, p := range op.Parameters {
				if p.In == "query" {
					names = append(names, p.Name)
				}
			}
			m[docRouteKey(method, path)] = names
		}
	}
	return m, nil
}

// docRouteKey returns the routeQueries key of a route as the OpenAPI
// document writes it: method "put", path "/v1/items/{item}".
func docRouteKey(method, path string) string {
	return strings.ToUpper(method) + " " + variable.ReplaceAllString(path, "{$1=*}")
}

// variable matches a path variable as the OpenAPI document writes it,
// "{customer}".
var variable = regexp.MustCompile(`\{([^}=]+)\}`)

// routeKey returns the routeQueries key of the route that matched r. The
// gateway middlewares each need it: it is built once per request and kept
// on the request's record.
func routeKey(r *http.Request) (string, bool) {
	rec := recordFrom(r.Context())
	if rec != nil && rec.routeKey != "" {
		return rec.routeKey, true
	}
	p, ok := runtime.HTTPPattern(r.Context())
	if !ok {
		return "", false
	}
	key := r.Method + " " + p.String()
	if rec != nil {
		rec.routeKey = key
	}
	return key, true
}

// displayRoute writes a routeQueries key as the OpenAPI document does.
func displayRoute(key string) string { return strings.ReplaceAll(key, "=*}", "}") }

// checkQuery is a gateway middleware that refuses a query parameter the
// matched route does not take, before the request goes any further.
func checkQuery(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, pathParams map[string]string) {
		if r.URL.RawQuery != "" {
			if msg := unknownQuery(r, pathParams); msg != "" {
				refuseBadRequest(w, r, msg)
				return
			}
		}
		next(w, r, pathParams)
	}
}

// unknownQuery describes the first query parameter of r that its route
// does not take, or returns "".
func unknownQuery(r *http.Request, pathParams map[string]string) string {
	key, ok := routeKey(r)
	if !ok {
		return ""
	}
	takes, ok := routeQueries[key]
	if !ok {
		// A route the document does not describe: the gateway's own rules.
		return ""
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "query: " + err.Error()
	}
	var unknown []string
	for name := range q {
		if !slices.Contains(takes, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return ""
	}
	name := slices.Min(unknown)
	route := displayRoute(key)
	shown := name
	if len(shown) > 64 {
		shown = shown[:64] + "…"
	}
	if _, inPath := pathParams[name]; inPath {
		return fmt.Sprintf("query parameter %q: %s is given in the path of %s", shown, name, route)
	}
	if len(takes) == 0 {
		return fmt.Sprintf("unknown query parameter %q: %s takes no query parameters", shown, route)
	}
	return fmt.Sprintf("unknown query parameter %q: %s takes %s", shown, route, strings.Join(takes, ", "))
}

// queryParser is the gateway's query parser: the default one, whose error
// is rewritten to name its parameter and say what was expected. checkQuery
// has already refused the parameters a route does not take, so each key
// here names one field.
type queryParser struct{ runtime.DefaultQueryParser }

func (p *queryParser) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	err := p.DefaultQueryParser.Parse(msg, values, filter)
	if err == nil {
		return nil
	}
	// Only on failure: the parameters one at a time, in name order, into
	// scratch messages, to find the first that fails.
	for _, name := range slices.Sorted(maps.Keys(values)) {
		scratch := msg.ProtoReflect().New().Interface()
		if e := p.DefaultQueryParser.Parse(scratch, url.Values{name: values[name]}, filter); e != nil {
			return queryError(name, e)
		}
	}
	return fmt.Errorf("query: %w", err)
}

// queryError rewrites a parse error of the query parameter name.
func queryError(name string, err error) error {
	var ne *strconv.NumError
	if !errors.As(err, &ne) {
		return fmt.Errorf("query parameter %q: %w", name, err)
	}
	v := ne.Num
	if len(v) > 64 {
		v = v[:64] + "…"
	}
	var what string
	switch {
	case errors.Is(ne.Err, strconv.ErrRange):
		what = "is out of range"
	case ne.Func == "ParseBool":
		what = "is not true or false"
	case strings.HasPrefix(ne.Func, "ParseFloat"):
		what = "is not a number"
	default:
		what = "is not a whole number"
	}
	return fmt.Errorf("query parameter %q: %q %s", name, v, what)
}

// refuseBadRequest answers 400 INVALID_ARGUMENT with msg, for the gateway
// middlewares, and logs the request under its route pattern, as annotate
// does for the others.
func refuseBadRequest(w http.ResponseWriter, r *http.Request, msg string) {
	if rec := recordFrom(r.Context()); rec != nil {
		key, _ := routeKey(r)
		rec.route = displayRoute(key)
	}
	writeJSONError(w, http.StatusBadRequest, codes.InvalidArgument, msg)
}
