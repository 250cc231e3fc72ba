package serve

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/serve/apierr"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Query strings are checked strictly. The gateway by itself ignores a
// query parameter it does not know, so "?categroy=shoes" would answer with
// items of every category and "DELETE …?dry_run=true" would erase; it also
// answers a malformed number with the raw strconv message. Here a
// parameter that the route does not take is refused with the list of those
// it does take (read from the OpenAPI document, the contract the clients
// see), and a value that does not parse is refused with its parameter and
// the type expected.

// checkQuery is a gateway middleware that refuses, before the request goes
// any further, a path or query that is not valid UTF-8 once unescaped (see
// invalidUTF8) and a query parameter the matched route does not take. A
// value that does not parse is refused by the gateway's own parse of the
// query (queryParser), which gatewayError gives its BadRequest detail
// (queryRefusal): the query is parsed into the request once. Each refusal
// names its field in a google.rpc.BadRequest detail.
func (s *Server) checkQuery(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, pathParams map[string]string) {
		if err := badQuery(r, pathParams); err != nil {
			s.refuse(w, r, apierr.Status(err))
			return
		}
		next(w, r, pathParams)
	}
}

// badQuery says what is wrong with r's path or query, or returns nil.
func badQuery(r *http.Request, pathParams map[string]string) *apierr.Error {
	if !utf8.ValidString(r.URL.Path) {
		field := "path"
		for _, name := range slices.Sorted(maps.Keys(pathParams)) {
			if !utf8.ValidString(pathParams[name]) {
				field = name
				break
			}
		}
		return invalid(field, "path: not valid UTF-8 once unescaped (identifiers are UTF-8 text, percent-encoded in the path)")
	}
	if r.URL.RawQuery == "" {
		return nil
	}
	rt := routeOf(r)
	q, err := url.ParseQuery(r.URL.RawQuery)
	switch {
	case err != nil && rt == nil:
		return nil // the gateway's own rules: it reports a malformed query
	case err != nil:
		return invalid("query", "query: "+err.Error())
	}
	if err := invalidUTF8(q); err != nil {
		return err
	}
	if rt == nil {
		return nil
	}
	return unknownQuery(rt, q, pathParams)
}

// queryRefusal returns err, the gateway's error for r, with a BadRequest
// detail naming the query parameter if err is the gateway's refusal of a
// value that does not parse (queryParser: InvalidArgument without
// details); any other error as it is. It parses the query again, on this
// error path only.
func queryRefusal(r *http.Request, err error) error {
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || len(st.Details()) > 0 || r.URL.RawQuery == "" {
		return err
	}
	rt := routeOf(r)
	q, qerr := url.ParseQuery(r.URL.RawQuery)
	if rt == nil || qerr != nil {
		return err
	}
	var parser runtime.DefaultQueryParser
	if name, perr := firstBadParam(&parser, rt.input.New().Interface(), q, noFilter); perr != nil {
		return apierr.Status(invalid(fieldName(name), queryError(name, perr).Error())).Err()
	}
	return err
}

// firstBadParam parses the parameters of values one at a time, in name
// order, into scratch messages of msg's type, and returns the first that
// fails and its error; nil if none does. It runs only after a parse of
// the whole query failed, to name the culprit.
func firstBadParam(p *runtime.DefaultQueryParser, msg proto.Message, values url.Values, filter *utilities.DoubleArray) (string, error) {
	for _, name := range slices.Sorted(maps.Keys(values)) {
		scratch := msg.ProtoReflect().New().Interface()
		if err := p.Parse(scratch, url.Values{name: values[name]}, filter); err != nil {
			return name, err
		}
	}
	return "", nil
}

// noFilter excludes no field from a query parse (unknownQuery has refused
// the parameters given in the path).
var noFilter = utilities.NewDoubleArray(nil)

// invalid is an InvalidArgument error about field whose message is msg as
// written (it names the field its own way).
func invalid(field, msg string) *apierr.Error {
	return &apierr.Error{Kind: apierr.InvalidArgument, Field: field, Msg: msg}
}

// fieldName is a query parameter's name as the field of a BadRequest
// detail: as is if it is a short token, else "query" (it is not echoed).
func fieldName(name string) string {
	if features.FieldLabel(name) == name {
		return name
	}
	return "query"
}

// invalidUTF8 refuses the first parameter of q whose name or value is not
// valid UTF-8 once unescaped, or returns nil. Protobuf strings must be
// UTF-8, so the gateway could not pass it on to the gRPC server and would
// answer 500. The message names a parameter but never echoes a value: it
// may be a customer id.
func invalidUTF8(q url.Values) *apierr.Error {
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if !utf8.ValidString(k) {
			return invalid("query", "query: a parameter name is not valid UTF-8 once unescaped")
		}
		for _, v := range q[k] {
			if !utf8.ValidString(v) {
				return invalid(fieldName(k), features.FieldLabel(k)+": not valid UTF-8 once unescaped")
			}
		}
	}
	return nil
}

// unknownQuery refuses the first parameter of q, in name order, that rt
// does not take, or returns nil.
func unknownQuery(rt *route, q url.Values, pathParams map[string]string) *apierr.Error {
	var unknown []string
	for name := range q {
		if !slices.Contains(rt.queries, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	name := slices.Min(unknown)
	if _, inPath := pathParams[name]; inPath {
		return invalid(name, fmt.Sprintf("query parameter %q: %s is given in the path of %s", name, name, rt.display))
	}
	if len(rt.queries) == 0 {
		return invalid(fieldName(name), fmt.Sprintf("unknown query parameter %s: %s takes no query parameters", apierr.Quote("a name", name), rt.display))
	}
	return invalid(fieldName(name), fmt.Sprintf("unknown query parameter %s: %s takes %s", apierr.Quote("a name", name), rt.display, strings.Join(rt.queries, ", ")))
}

// queryParser is the gateway's query parser: the default one, whose error
// is rewritten to name its parameter and say what was expected (checkQuery
// has already refused the parameters a route does not take); gatewayError
// adds the BadRequest detail (queryRefusal).
type queryParser struct{ runtime.DefaultQueryParser }

func (p *queryParser) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	err := p.DefaultQueryParser.Parse(msg, values, filter)
	if err == nil {
		return nil
	}
	if name, e := firstBadParam(&p.DefaultQueryParser, msg, values, filter); e != nil {
		return queryError(name, e)
	}
	return fmt.Errorf("query: %w", err)
}

// queryError rewrites a parse error of the query parameter name. Neither
// the name nor a value that looks like an e-mail address is echoed.
func queryError(name string, err error) error {
	var (
		ne *strconv.NumError
		te *time.ParseError
	)
	switch {
	case errors.As(err, &ne):
	case errors.As(err, &te):
		// Go's text names its layout, not a format a client knows.
		return fmt.Errorf("query parameter %s: %s is not an RFC 3339 time such as 2026-11-01T00:00:00Z", apierr.Quote("a name", name), apierr.Quote("a value", te.Value))
	case features.LooksLikeEmail(err.Error()):
		// The gateway's text quotes the name or the value.
		return fmt.Errorf("query parameter %s: not valid (the details are withheld: they hold what looks like an e-mail address)", apierr.Quote("a name", name))
	default:
		return fmt.Errorf("query parameter %s: %w", apierr.Quote("a name", name), err)
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
	return fmt.Errorf("query parameter %s: %s %s", apierr.Quote("a name", name), apierr.Quote("a value", ne.Num), what)
}
