package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/budget"
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
		Weights         map[string]float64 `json:"weights"` // per event type, e.g. {"view": 0.1}
		StrengthCap     *float64           `json:"strength_cap"`
		Catalogue       string             `json:"catalogue"` // path of a catalogue file
		KeepReleases    *int               `json:"keep_releases"`
	} `json:"training"`
	// Privacy holds the budget cap: at most cap_epsilon (a number or
	// "inf") of cumulative ε at cap_delta over the rolling window
	// cap_window (a period such as "365d" or "1y").
	Privacy struct {
		CapEpsilon json.RawMessage `json:"cap_epsilon"`
		CapDelta   *float64        `json:"cap_delta"`
		CapWindow  string          `json:"cap_window"`
	} `json:"privacy"`
}

// settings is the resolved configuration used by the commands.
type settings struct {
	retention retention.Policy
	consent   consent.Defaults
	training  trainSettings
	cap       budget.Cap
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
	catalogue           string
}

// epsilonSetting returns the privacy budget of an optional configuration
// field: a JSON number ≥ least (and > 0), or the string "inf"; 0 if the
// field is absent or bad (then adding an error naming the field).
func epsilonSetting(errs *[]error, path, field string, raw json.RawMessage, least float64) float64 {
	if raw == nil {
		return 0
	}
	var f float64
	var s string
	err := json.Unmarshal(raw, &s)
	if err == nil {
		f, err = parseEpsilon(s)
	} else {
		err = json.Unmarshal(raw, &f)
	}
	if err != nil || !(f > 0) || f < least {
		want := `a number > 0 or "inf"`
		if least > 0 {
			want = fmt.Sprintf(`a number ≥ %g, or "inf" for a non-private model`, least)
		}
		*errs = append(*errs, fmt.Errorf("config %s: %s = %s: want %s", path, field, raw, want))
		return 0
	}
	return f
}

// parseEpsilon parses a privacy budget: a number > 0, or inf (any case,
// with an optional +, or ∞).
func parseEpsilon(s string) (float64, error) {
	if s == "∞" {
		return math.Inf(1), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err == nil && math.IsInf(f, 1):
		return f, nil
	case err != nil || !(f > 0) || math.IsInf(f, 0):
		return 0, fmt.Errorf("%q: want a number > 0 or inf", s)
	}
	return f, nil
}

// minEpsilon is the smallest ε a training run accepts. Below it the
// budget of one training step is so small that its noise exceeds what the
// exact sampler represents (or the step's ε rounds to 0), and with any
// realistic number of customers the model would be noise anyway.
const minEpsilon = 0.001

// epsilonRange describes the ε a training run accepts.
var epsilonRange = fmt.Sprintf("a number ≥ %g, or inf for a non-private model", minEpsilon)

// parseTrainEpsilon parses the ε of a training run: at least minEpsilon,
// or inf. Its error says which values it accepts, not which it was given.
func parseTrainEpsilon(s string) (float64, error) {
	f, err := parseEpsilon(s)
	if err != nil || f < minEpsilon {
		return 0, fmt.Errorf("want %s", epsilonRange)
	}
	return f, nil
}

// parseEpsilonList parses the comma-separated ε values of the flag --name:
// each at least minEpsilon, or inf. An empty list or entry is an error.
func parseEpsilonList(name, list string) ([]float64, error) {
	if strings.TrimSpace(list) == "" {
		return nil, usagef("--%s: empty list; want comma-separated values, each %s", name, epsilonRange)
	}
	var xs []float64
	for i, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, usagef("--%s: entry %d is empty", name, i+1)
		}
		x, err := parseTrainEpsilon(s)
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
)

// orDefault extends r with 0, which means the default.
func orDefault(r numRange) numRange {
	return numRange{func(x float64) bool { return x == 0 || r.ok(x) }, "0 (the default) or " + r.want}
}

// setting returns the value of an optional configuration field, 0 if it
// is absent or out of range r (then adding an error naming the field).
func setting[T int | float64](errs *[]error, path, field string, v *T, r numRange) T {
	if v == nil {
		return 0
	}
	if !r.ok(float64(*v)) {
		*errs = append(*errs, fmt.Errorf("config %s: %s = %v: want %s", path, field, *v, r.want))
		return 0
	}
	return *v
}

// loadSettings reads the configuration file named by the global flags, if
// any, and resolves it with the defaults.
func loadSettings(path string) (settings, error) {
	var s settings
	if path == "" {
		return s, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("config: %w", err)
	}
	var fc fileConfig
	if err := decodeConfig(raw, &fc); err != nil {
		return s, fmt.Errorf("config %s: %w", path, err)
	}
	var errs []error
	for kind, period := range fc.Retention {
		p, err := retention.ParsePeriod(period)
		if err == nil {
			err = s.retention.Set(kind, p)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("config %s: retention.%s: %w", path, kind, err))
		}
	}
	s.consent = consent.Defaults{Personalization: fc.ConsentDefaults.Personalization, InStore: fc.ConsentDefaults.InStore}

	t := fc.Training
	ts := &s.training
	ts.epsilon = epsilonSetting(&errs, path, "training.epsilon", t.Epsilon, minEpsilon)
	ts.delta = setting(&errs, path, "training.delta", t.Delta, probability)
	ts.iterations = setting(&errs, path, "training.iterations", t.Iterations, orDefault(iterationsRange))
	ts.factors = setting(&errs, path, "training.factors", t.Factors, factorsRange)
	ts.lambda = setting(&errs, path, "training.lambda", t.Lambda, positiveNumber)
	ts.alpha = setting(&errs, path, "training.alpha", t.Alpha, positiveNumber)
	ts.maxItems = setting(&errs, path, "training.max_items_per_user", t.MaxItemsPerUser, orDefault(maxItemsRange))
	ts.rank = setting(&errs, path, "training.rank", t.Rank, rankRange)
	ts.clip = setting(&errs, path, "training.clip", t.Clip, positiveNumber)
	ts.strengthCap = setting(&errs, path, "training.strength_cap", t.StrengthCap, positiveNumber)
	ts.keep = setting(&errs, path, "training.keep_releases", t.KeepReleases, keepRange)
	ts.catalogue = t.Catalogue
	if f := cmp.Or(ts.factors, als.DefaultFactors); ts.rank > f {
		factors := fmt.Sprintf("training.factors = %d", f)
		if ts.factors == 0 {
			factors = fmt.Sprintf("the default factors, %d", f)
		}
		errs = append(errs, fmt.Errorf("config %s: training.rank = %d exceeds %s: a private model has at most that many factors", path, ts.rank, factors))
	}
	if t.Weights != nil {
		s.training.weights = map[privacy.EventKind]float64{}
		for kind, w := range t.Weights {
			k, err := privacy.ParseEventKind(kind)
			if err != nil || !(w >= 0) || math.IsInf(w, 0) {
				errs = append(errs, fmt.Errorf("config %s: training.weights.%s = %v: want an event type and a finite weight ≥ 0", path, kind, w))
				continue
			}
			s.training.weights[k] = w
		}
	}
	pc := fc.Privacy
	s.cap = budget.Cap{Epsilon: epsilonSetting(&errs, path, "privacy.cap_epsilon", pc.CapEpsilon, 0), Delta: setting(&errs, path, "privacy.cap_delta", pc.CapDelta, probability)}
	if pc.CapWindow != "" {
		w, err := retention.ParsePeriod(pc.CapWindow)
		if err != nil {
			errs = append(errs, fmt.Errorf("config %s: privacy.cap_window: %w", path, err))
		}
		s.cap.Window = w
	}
	if err := s.cap.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("config %s: privacy: %w", path, err))
	}
	return s, errors.Join(errs...)
}

// decodeConfig decodes the configuration file raw (a UTF-8 byte order mark
// allowed) into fc: one JSON object and nothing after it. Its errors say
// where (line and column) and what was wanted, in the file's terms rather
// than Go's.
func decodeConfig(raw []byte, fc *fileConfig) error {
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(raw)) == 0 {
		return errors.New(`empty file; want a JSON object such as {"retention": {"purchase": "3y"}} (README "Configuration")`)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(fc); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("%s: the file ends inside the JSON object (a missing } or ]?)", position(raw, int64(len(raw))))
		case errors.As(err, &syn):
			// Offset is just after the offending byte.
			return fmt.Errorf("%s: malformed JSON: %s", position(raw, syn.Offset-1), strings.TrimPrefix(syn.Error(), "json: "))
		case errors.As(err, &typ):
			// Offset is the end of the value, which may span lines: the
			// line where it ends is close enough, the column is not.
			line, _, _ := strings.Cut(position(raw, typ.Offset), ",")
			field := "the configuration"
			if typ.Field != "" {
				field = typ.Field
			}
			return fmt.Errorf("%s: %s: want %s, not %s", line, field, jsonKind(typ.Type), typ.Value)
		}
		// Unknown fields: `json: unknown field "x"`.
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	if off := dec.InputOffset(); len(bytes.TrimSpace(raw[off:])) > 0 {
		rest := raw[off:]
		return fmt.Errorf("%s: text after the JSON object; want one object", position(raw, off+int64(len(rest)-len(bytes.TrimLeft(rest, " \t\r\n")))))
	}
	return nil
}

// position is "line L, column C" of byte offset off of raw (1-based; the
// column counts bytes).
func position(raw []byte, off int64) string {
	off = min(max(off, 0), int64(len(raw)))
	before := raw[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
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
