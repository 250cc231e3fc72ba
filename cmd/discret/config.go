package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/model/train"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/retention"
)

// fileConfig is the optional JSON configuration file (--config,
// DISCRET_CONFIG). Every field is optional; an absent field means the
// documented default. Unknown fields are errors. The README's "Configuration"
// section documents each field.
type fileConfig struct {
	// Retention periods per event type, e.g. {"view": "13mo", "purchase": "3y"}.
	Retention map[string]string `json:"retention"`
	// ConsentDefaults is the decision for customers who never expressed a
	// choice; both false (opt-in) by default.
	ConsentDefaults struct {
		Personalization bool `json:"personalization"`
		InStore         bool `json:"in_store"`
	} `json:"consent_defaults"`
	// Training holds the defaults of `discret train`; its flags override
	// them. An absent field means the built-in default; a field that is
	// present must be in its range (trainRanges), and 0 is refused where it
	// is not a value (except rank, iterations and max_items_per_user, whose
	// 0 means the automatic or default rule, as the README's example
	// writes).
	Training struct {
		Epsilon         json.RawMessage    `json:"epsilon"` // a number or "inf"
		Delta           *float64           `json:"delta"`
		Iterations      *int               `json:"iterations"`
		Factors         *int               `json:"factors"`
		Lambda          *float64           `json:"lambda"`
		Alpha           *float64           `json:"alpha"`
		MaxItemsPerUser *int               `json:"max_items_per_user"`
		Rank            *int               `json:"rank"` // factors of a private model; 0: automatic
		Clip            *float64           `json:"clip"`
		ItemFraction    *float64           `json:"item_fraction"` // share of the catalogue a private model trains
		Weights         map[string]float64 `json:"weights"`       // per event type, e.g. {"view": 0.1}
		StrengthCap     *float64           `json:"strength_cap"`
		Catalogue       string             `json:"catalogue"` // path of a catalogue file
		KeepReleases    *int               `json:"keep_releases"`
	} `json:"training"`
	// Privacy holds the budget cap: at most cap_epsilon (a number, or
	// "inf" for no cap) of cumulative ε at cap_delta (in a training run's
	// δ range: the spend is stated at the smallest of the cap's and the
	// releases' δ) over the rolling window cap_window (a period such as
	// "365d" or "1y"); and non_private,
	// "allow" (the default) or "refuse": whether training may make a
	// non-private release (ε = ∞).
	Privacy struct {
		CapEpsilon json.RawMessage `json:"cap_epsilon"`
		CapDelta   *float64        `json:"cap_delta"`
		CapWindow  string          `json:"cap_window"`
		NonPrivate string          `json:"non_private"`
	} `json:"privacy"`
	// Audit holds the retention period of the audit trail (a period
	// such as "5y"; `discret audit`).
	Audit struct {
		Retention *string `json:"retention"`
	} `json:"audit"`
}

// Values of privacy.non_private.
const (
	nonPrivateAllow  = "allow"
	nonPrivateRefuse = "refuse"
)

// settings is the resolved configuration used by the commands.
type settings struct {
	retention retention.Policy
	consent   consent.Defaults
	training  trainSettings
	cap       budget.Cap
	// refuseNonPrivate is privacy.non_private = "refuse": training refuses
	// non-private runs.
	refuseNonPrivate bool
	// auditRetention is audit.retention: how long audit entries are kept;
	// zero means retention.DefaultAudit.
	auditRetention retention.Period
}

// trainSettings are the configured defaults of `discret train`; zero values
// mean the built-in defaults (absent fields, or the 0 of rank, iterations
// and max_items_per_user).
type trainSettings struct {
	epsilon, delta      float64
	iterations, factors int
	lambda, alpha, clip float64
	maxItems, keep      int
	rank                int
	weights             map[privacy.EventKind]float64
	strengthCap         float64
	itemFraction        float64
	catalogue           string
}

// epsilonSetting returns the privacy budget of an optional configuration
// field: a JSON number > 0, or the string "inf", that training accepts if
// forTraining is set (trainEpsilon); 0 if the field is absent or bad (then
// reporting the field).
func epsilonSetting(f *configFile, field string, raw json.RawMessage, forTraining bool) float64 {
	if raw == nil {
		return 0
	}
	var x float64
	var s string
	err := json.Unmarshal(raw, &s)
	if err == nil {
		x, err = parseEpsilon(s)
	} else {
		err = json.Unmarshal(raw, &x)
	}
	if err != nil || !(x > 0) || forTraining && !trainEpsilon(x) {
		want := `a number > 0 or "inf"`
		if forTraining {
			want = fmt.Sprintf(`a number from %g to %g, or "inf" for a non-private model`, minEpsilon, float64(maxEpsilon))
		}
		f.errorf(field, "%s = %s: want %s", field, raw, want)
		return 0
	}
	return x
}

// parseEpsilon parses a privacy budget: a plain decimal number > 0
// (decimalNumber), or inf (any case) or ∞, the symbol outputs print.
func parseEpsilon(s string) (float64, error) {
	if s == "∞" || strings.EqualFold(s, "inf") {
		return math.Inf(1), nil
	}
	if !decimalNumber.MatchString(s) {
		return 0, fmt.Errorf("%q: want a number > 0 or inf", s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0) { // an overflow is an error (strconv.ErrRange)
		return 0, fmt.Errorf("%q: want a number > 0 or inf", s)
	}
	return f, nil
}

// decimalNumber matches a plain decimal number: digits with an optional
// point and an optional exponent (10, 0.5, .5, 1e-3). strconv.ParseFloat
// also takes signs, "infinity", hexadecimal (0x1p0) and underscores (1_0),
// which a privacy budget is not written with.
var decimalNumber = regexp.MustCompile(`^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// minEpsilon and maxEpsilon bound the finite ε of a training run
// (train.MinEpsilon, train.MaxEpsilon).
const (
	minEpsilon = train.MinEpsilon
	maxEpsilon = train.MaxEpsilon
)

// epsilonRange describes the ε a training run accepts.
var epsilonRange = fmt.Sprintf("a number from %g to %g, or inf for a non-private model", minEpsilon, float64(maxEpsilon))

// trainEpsilon reports whether ε is one a training run accepts.
func trainEpsilon(eps float64) bool {
	return eps >= minEpsilon && (eps <= maxEpsilon || math.IsInf(eps, 1))
}

// parseTrainEpsilon parses the ε of a training run (trainEpsilon). Its
// error says which values it accepts, not which it was given.
func parseTrainEpsilon(s string) (float64, error) {
	f, err := parseEpsilon(s)
	if err != nil || !trainEpsilon(f) {
		return 0, fmt.Errorf("want %s", epsilonRange)
	}
	return f, nil
}

// parseEpsilonList parses the comma-separated ε values of the flag --name,
// each as parseTrainEpsilon does. An empty list or entry is an error.
func parseEpsilonList(name, list string) ([]float64, error) {
	return parseList(name, list, epsilonRange, parseTrainEpsilon)
}

// parseList parses the comma-separated entries of the flag --name with
// parse; want describes a valid entry. An empty list or entry is an error,
// and an entry's error says which entry it is.
func parseList[T any](name, list, want string, parse func(string) (T, error)) ([]T, error) {
	if strings.TrimSpace(list) == "" {
		return nil, usagef("--%s: empty list; want comma-separated values, each %s", name, want)
	}
	var xs []T
	for i, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, usagef("--%s: entry %d is empty", name, i+1)
		}
		x, err := parse(s)
		if err != nil {
			return nil, usagef("--%s: entry %d, %s: %v", name, i+1, s, err)
		}
		xs = append(xs, x)
	}
	return xs, nil
}

// Ranges of the training parameters, shared by the flags of `discret
// train` and the configuration file's "training" section. The bounds of
// iterations and factors are those of als.Config.Validate.
var (
	iterationsRange = intRange(1, 1000)
	factorsRange    = intRange(1, 1024)
	rankRange       = numRange{func(x float64) bool { return x >= 0 && x <= 1024 }, "0 (automatic) or an integer from 1 to 1024, at most the factors"}
	maxItemsRange   = atLeast(1)
	keepRange       = atLeast(1)
	fractionRange   = numRange{func(x float64) bool { return x > 0 && x <= 1 }, "a number in (0, 1]"}
)

// orDefault extends r with 0, which means the default.
func orDefault(r numRange) numRange {
	return numRange{func(x float64) bool { return x == 0 || r.ok(x) }, "0 (the default) or " + r.want}
}

// setting returns the value of an optional configuration field, 0 if it
// is absent or out of range r (then reporting the field).
func setting[T int | float64](f *configFile, field string, v *T, r numRange) T {
	if v == nil {
		return 0
	}
	if !r.ok(float64(*v)) {
		f.errorf(field, "%s = %v: want %s", field, *v, r.want)
		return 0
	}
	return *v
}

// period parses the retention period of the configuration field named by
// field, reporting it if it is bad.
func period(f *configFile, field, s string) retention.Period {
	p, err := retention.ParsePeriod(s)
	switch {
	case errors.Is(err, retention.ErrLongPeriod):
		f.errorf(field, `%s = %q: too long; want at most 999999 years, months or days in all`, field, s)
	case err != nil:
		f.errorf(field, `%s = %q: want a period > 0 in years, months, weeks or days: "3y", "13mo", "2w", "90d", or a sum such as "1y6mo"`, field, s)
	}
	return p
}

// loadSettings reads the configuration file named by the global flags, if
// any, and resolves it with the defaults. Its errors name the file, the
// line and column, and the field (README "Configuration").
func loadSettings(path string) (settings, error) {
	var s settings
	if path == "" {
		return s, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("config: %w", err)
	}
	return parseSettings(path, raw)
}

// parseSettings resolves the configuration file raw, named name, with the
// defaults (loadSettings).
func parseSettings(name string, raw []byte) (settings, error) {
	var s settings
	var fc fileConfig
	f, err := decodeConfig(name, raw, &fc)
	if err != nil {
		return s, err
	}
	for _, kind := range slices.Sorted(maps.Keys(fc.Retention)) {
		field := "retention." + kind
		if _, err := privacy.ParseEventKind(kind); err != nil {
			f.keyErrorf(field, "%s: unknown event type; want view, add_to_cart, purchase or store_visit", field)
			continue
		}
		if p := period(f, field, fc.Retention[kind]); !p.IsZero() {
			s.retention.Set(kind, p) // cannot fail: kind was parsed above
		}
	}
	s.consent = consent.Defaults{Personalization: fc.ConsentDefaults.Personalization, InStore: fc.ConsentDefaults.InStore}

	t := fc.Training
	ts := &s.training
	ts.epsilon = epsilonSetting(f, "training.epsilon", t.Epsilon, true)
	ts.delta = setting(f, "training.delta", t.Delta, deltaRange)
	ts.iterations = setting(f, "training.iterations", t.Iterations, orDefault(iterationsRange))
	ts.factors = setting(f, "training.factors", t.Factors, factorsRange)
	ts.lambda = setting(f, "training.lambda", t.Lambda, positiveNumber)
	ts.alpha = setting(f, "training.alpha", t.Alpha, positiveNumber)
	ts.maxItems = setting(f, "training.max_items_per_user", t.MaxItemsPerUser, orDefault(maxItemsRange))
	ts.rank = setting(f, "training.rank", t.Rank, rankRange)
	ts.clip = setting(f, "training.clip", t.Clip, positiveNumber)
	ts.strengthCap = setting(f, "training.strength_cap", t.StrengthCap, positiveNumber)
	ts.itemFraction = setting(f, "training.item_fraction", t.ItemFraction, fractionRange)
	ts.keep = setting(f, "training.keep_releases", t.KeepReleases, keepRange)
	ts.catalogue = t.Catalogue
	if fs := cmp.Or(ts.factors, als.DefaultFactors); ts.rank > fs {
		factors := fmt.Sprintf("training.factors = %d", fs)
		if ts.factors == 0 {
			factors = fmt.Sprintf("the default factors, %d", fs)
		}
		f.errorf("training.rank", "training.rank = %d exceeds %s: a private model has at most that many factors", ts.rank, factors)
	}
	if t.Weights != nil {
		s.training.weights = map[privacy.EventKind]float64{}
		for _, kind := range slices.Sorted(maps.Keys(t.Weights)) {
			field, w := "training.weights."+kind, t.Weights[kind]
			k, err := privacy.ParseEventKind(kind)
			if err != nil {
				f.keyErrorf(field, "%s: unknown event type; want view, add_to_cart, purchase or store_visit", field)
				continue
			}
			if !(w >= 0) || math.IsInf(w, 0) {
				f.errorf(field, "%s = %v: want a finite weight ≥ 0", field, w)
				continue
			}
			s.training.weights[k] = w
		}
	}
	pc := fc.Privacy
	s.cap = budget.Cap{Epsilon: epsilonSetting(f, "privacy.cap_epsilon", pc.CapEpsilon, false), Delta: setting(f, "privacy.cap_delta", pc.CapDelta, deltaRange)}
	if pc.CapWindow != "" {
		s.cap.Window = period(f, "privacy.cap_window", pc.CapWindow)
	}
	if err := s.cap.Validate(); err != nil {
		f.errorf("privacy", "privacy: %s", strings.TrimPrefix(err.Error(), "budget: "))
	}
	switch pc.NonPrivate {
	case "", nonPrivateAllow:
	case nonPrivateRefuse:
		s.refuseNonPrivate = true
	default:
		f.errorf("privacy.non_private", "privacy.non_private = %q: want %q or %q", pc.NonPrivate, nonPrivateAllow, nonPrivateRefuse)
	}
	if r := fc.Audit.Retention; r != nil {
		s.auditRetention = period(f, "audit.retention", *r)
	}
	return s, f.err()
}

// configFile is a configuration file being checked: its name, its content,
// where each field is, and the problems found so far.
type configFile struct {
	name     string
	raw      []byte
	fields   map[string]fieldSpan // by path: "privacy.cap_epsilon", "retention.view"; "" is the whole file
	spans    []fieldSpan          // in the file's order
	problems []problem
}

// fieldSpan is where a field of a configuration file is: the byte offsets
// of its key (of its value, for the whole file) and of its value's first
// and last bytes (end is just after the last).
type fieldSpan struct {
	path            string
	key, start, end int64
}

// problem is an error found in a configuration file, and its offset.
type problem struct {
	at  int64
	err error
}

// report adds a problem at offset at: the error is "config FILE:LINE:COL:
// message".
func (f *configFile) report(at int64, format string, args ...any) {
	f.problems = append(f.problems, problem{at, fmt.Errorf("config %s:%s: %s", f.name, position(f.raw, at), fmt.Sprintf(format, args...))})
}

// errorf reports a problem with the value of the field at path (with the
// path in the message: format names it).
func (f *configFile) errorf(path, format string, args ...any) {
	f.report(f.fields[path].start, format, args...)
}

// keyErrorf reports a problem with the key of the field at path.
func (f *configFile) keyErrorf(path, format string, args ...any) {
	f.report(f.fields[path].key, format, args...)
}

// err returns the problems found, in the file's order.
func (f *configFile) err() error {
	slices.SortStableFunc(f.problems, func(a, b problem) int { return cmp.Compare(a.at, b.at) })
	errs := make([]error, len(f.problems))
	for i, p := range f.problems {
		errs[i] = p.err
	}
	return errors.Join(errs...)
}

// decodeConfig decodes the configuration file raw, named name (a UTF-8 byte
// order mark allowed), into fc: one JSON object and nothing after it. It
// returns the file with the place of each field, for the errors of the
// values. Its errors say where (line and column), which field (its full
// path) and what was wanted, in the file's terms rather than Go's.
func decodeConfig(name string, raw []byte, fc *fileConfig) (*configFile, error) {
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	f := &configFile{name: name, raw: raw, fields: map[string]fieldSpan{}}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf(`config %s: empty file; want a JSON object such as {"retention": {"purchase": "3y"}} (README "Configuration")`, name)
	}
	// Decode reads (and checks the syntax of) the whole object before it
	// stores anything, so only the last two cases need the field index.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(fc)
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		f.report(int64(len(raw)), "the file ends inside the JSON object (a missing } or ]?)")
		return nil, f.err()
	case errors.As(err, &syn):
		// Offset is just after the offending byte.
		f.report(syn.Offset-1, "malformed JSON: %s", strings.TrimPrefix(syn.Error(), "json: "))
		return nil, f.err()
	}
	if ierr := f.index(reflect.TypeFor[fileConfig]()); ierr != nil {
		return nil, fmt.Errorf("config %s: %w", name, ierr) // not expected: Decode checked the syntax
	}
	if errors.As(err, &typ) {
		// Offset is the end of the value: the innermost field that holds
		// it is the one whose type is wrong (typ.Field omits map keys).
		s := f.fields[typ.Field]
		for _, sp := range f.spans {
			if sp.start < typ.Offset && typ.Offset <= sp.end && sp.start >= s.start {
				s = sp
			}
		}
		field := ""
		if s.path != "" {
			field = s.path + ": "
		}
		want := jsonKind(typ.Type)
		if num, ok := strings.CutPrefix(typ.Value, "number "); ok && want == "a number" {
			f.report(s.start, "%s = %s: out of range; want a number", s.path, num) // beyond float64
		} else {
			f.report(s.start, "%swant %s, not %s", field, want, typ.Value)
		}
	}
	// Any other error of Decode is an unknown field, which index reported
	// with its place and path (or else is reported as it is).
	if err != nil && typ == nil && len(f.problems) == 0 {
		f.report(0, "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if off := dec.InputOffset(); len(bytes.TrimSpace(raw[off:])) > 0 {
		f.report(skipSpace(raw, off, " \t\r\n"), "text after the JSON object; want one object")
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	f.problems = nil
	return f, nil
}

// index records the place of every field of the first JSON value of the
// file, which must be valid, and reports the keys that t (fileConfig) has
// no field for: what json.Decoder.DisallowUnknownFields refuses, but with
// the key's place and full path. Keys match fields as encoding/json
// matches them: exactly, or else ignoring case.
func (f *configFile) index(t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(f.raw))
	dec.UseNumber() // a number beyond float64 is Decode's error, not this walk's
	// next is the offset of the next token: InputOffset is the end of the
	// previous one, before any separator.
	next := func() int64 { return skipSpace(f.raw, dec.InputOffset(), " \t\r\n,:") }
	var walk func(path string, key int64, t reflect.Type) error
	walk = func(path string, key int64, t reflect.Type) error {
		start := next()
		if path == "" {
			key = start
		}
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch tok {
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s[%d]", path, i), next(), nil); err != nil {
					return err
				}
			}
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				at := next()
				tok, err := dec.Token()
				if err != nil {
					return err
				}
				k := tok.(string)
				name, ft, ok := jsonField(t, k)
				child := strings.TrimPrefix(path+"."+name, ".")
				if !ok {
					f.report(at, "%s: unknown field; want %s", child, fieldNames(t))
				}
				// encoding/json keeps the last of repeated keys: a
				// second cap_epsilon would silently replace the first.
				if seen[name] {
					f.report(at, "%s: repeated; give each field once", child)
				}
				seen[name] = true
				if err := walk(child, at, ft); err != nil {
					return err
				}
			}
		default:
			span := fieldSpan{path, key, start, dec.InputOffset()}
			f.fields[path] = span
			f.spans = append(f.spans, span)
			return nil
		}
		if _, err := dec.Token(); err != nil { // the closing ] or }
			return err
		}
		span := fieldSpan{path, key, start, dec.InputOffset()}
		f.fields[path] = span
		f.spans = append(f.spans, span)
		return nil
	}
	return walk("", 0, t)
}

// jsonField returns the name and type of the field of t that the JSON key
// k decodes into; ok is false if t, a struct, has none. Every key of a map
// is a field, of the map's element type; the type of the fields of other
// types (a json.RawMessage) is nil: anything goes.
func jsonField(t reflect.Type, k string) (name string, ft reflect.Type, ok bool) {
	switch {
	case t == nil:
		return k, nil, true
	case t.Kind() == reflect.Map:
		return k, t.Elem(), true
	case t.Kind() != reflect.Struct:
		return k, nil, true
	}
	for pass := range 2 {
		for sf := range t.Fields() {
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == k || pass == 1 && strings.EqualFold(name, k) {
				return name, sf.Type, true
			}
		}
	}
	return k, nil, false
}

// fieldNames lists the JSON names of the fields of the struct type t, for
// an error: "a, b or c".
func fieldNames(t reflect.Type) string {
	var names []string
	for sf := range t.Fields() {
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		names = append(names, name)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// skipSpace returns the offset of the first byte at or after off of raw
// that is not in set.
func skipSpace(raw []byte, off int64, set string) int64 {
	for off < int64(len(raw)) && strings.IndexByte(set, raw[off]) >= 0 {
		off++
	}
	return off
}

// position is "LINE:COLUMN" of byte offset off of raw (1-based; the column
// counts bytes).
func position(raw []byte, off int64) string {
	off = min(max(off, 0), int64(len(raw)))
	before := raw[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("%d:%d", line, col)
}

// jsonKind names the JSON value a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "an object"
}
