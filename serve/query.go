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
	"unicode/utf8"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/serve/apierr"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
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
// invalidUTF8) and a query parameter the matched route does not take. The
// query is parsed once for both checks.
func (s *Server) checkQuery(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, pathParams map[string]string) {
		if msg := badQuery(r, pathParams); msg != "" {
			s.refuse(w, r, apierr.Status(apierr.New(apierr.InvalidArgument, "%s", msg)))
			return
		}
		next(w, r, pathParams)
	}
}

// badQuery describes what is wrong with r's path or query, or returns "".
func badQuery(r *http.Request, pathParams map[string]string) string {
	if !utf8.ValidString(r.URL.Path) {
		return "path: not valid UTF-8 once unescaped (identifiers are UTF-8 text, percent-encoded in the path)"
	}
	if r.URL.RawQuery == "" {
		return ""
	}
	rt := routeOf(r)
	q, err := url.ParseQuery(r.URL.RawQuery)
	switch {
	case err != nil && rt == nil:
		return "" // the gateway's own rules: it reports a malformed query
	case err != nil:
		return "query: " + err.Error()
	}
	if msg := invalidUTF8(q); msg != "" {
		return msg
	}
	if rt == nil {
		return ""
	}
	return unknownQuery(rt, q, pathParams)
}

// invalidUTF8 describes the first parameter of q whose name or value is
// not valid UTF-8 once unescaped, or returns "". Protobuf strings must be
// UTF-8, so the gateway could not pass it on to the gRPC server and would
// answer 500. The message names a parameter but never echoes a value: it
// may be a customer id.
func invalidUTF8(q url.Values) string {
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if !utf8.ValidString(k) {
			return "query: a parameter name is not valid UTF-8 once unescaped"
		}
		for _, v := range q[k] {
			if !utf8.ValidString(v) {
				return k + ": not valid UTF-8 once unescaped"
			}
		}
	}
	return ""
}

// unknownQuery describes the first parameter of q, in name order, that rt
// does not take, or returns "".
func unknownQuery(rt *route, q url.Values, pathParams map[string]string) string {
	var unknown []string
	for name := range q {
		if !slices.Contains(rt.queries, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return ""
	}
	name := slices.Min(unknown)
	if _, inPath := pathParams[name]; inPath {
		return fmt.Sprintf("query parameter %q: %s is given in the path of %s", name, name, rt.display)
	}
	if len(rt.queries) == 0 {
		return fmt.Sprintf("unknown query parameter %s: %s takes no query parameters", apierr.Quote("a name", name), rt.display)
	}
	return fmt.Sprintf("unknown query parameter %s: %s takes %s", apierr.Quote("a name", name), rt.display, strings.Join(rt.queries, ", "))
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

// queryError rewrites a parse error of the query parameter name. Neither
// the name nor a value that looks like an e-mail address is echoed.
func queryError(name string, err error) error {
	var ne *strconv.NumError
	switch {
	case errors.As(err, &ne):
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
