package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"

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
	// them. Zero or absent fields mean the built-in defaults.
	Training struct {
		Epsilon         epsilonValue       `json:"epsilon"` // a number or "inf"
		Delta           float64            `json:"delta"`
		Iterations      int                `json:"iterations"`
		Factors         int                `json:"factors"`
		Lambda          float64            `json:"lambda"`
		Alpha           float64            `json:"alpha"`
		MaxItemsPerUser int                `json:"max_items_per_user"`
		Rank            int                `json:"rank"` // factors of a private model; 0: automatic
		Clip            float64            `json:"clip"`
		Weights         map[string]float64 `json:"weights"` // per event type, e.g. {"view": 0.1}
		StrengthCap     float64            `json:"strength_cap"`
		Catalogue       string             `json:"catalogue"` // path of a catalogue file
		KeepReleases    int                `json:"keep_releases"`
	} `json:"training"`
	// Privacy holds the budget cap: at most cap_epsilon (a number or
	// "inf") of cumulative ε at cap_delta over the rolling window
	// cap_window (a period such as "365d" or "1y").
	Privacy struct {
		CapEpsilon epsilonValue `json:"cap_epsilon"`
		CapDelta   float64      `json:"cap_delta"`
		CapWindow  string       `json:"cap_window"`
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
// mean the built-in defaults.
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

// epsilonValue is a privacy budget in the configuration: a JSON number, or
// the string "inf" for no limit.
type epsilonValue float64

func (v *epsilonValue) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		f, err := parseEpsilon(s)
		*v = epsilonValue(f)
		return err
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil || !(f > 0) {
		return fmt.Errorf("want a number > 0 or \"inf\", got %s", b)
	}
	*v = epsilonValue(f)
	return nil
}

// parseEpsilon parses a privacy budget: a number > 0, or inf.
func parseEpsilon(s string) (float64, error) {
	if s == "inf" || s == "∞" {
		return math.Inf(1), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%q: want a number > 0 or inf", s)
	}
	return f, nil
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
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
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
	s.training = trainSettings{
		epsilon: float64(t.Epsilon), delta: t.Delta, iterations: t.Iterations, factors: t.Factors,
		lambda: t.Lambda, alpha: t.Alpha, clip: t.Clip, maxItems: t.MaxItemsPerUser, keep: t.KeepReleases, rank: t.Rank,
		strengthCap: t.StrengthCap, catalogue: t.Catalogue,
	}
	bad := func(field string, ok bool, value any) {
		if !ok {
			errs = append(errs, fmt.Errorf("config %s: %s = %v out of range", path, field, value))
		}
	}
	bad("training.delta", t.Delta >= 0 && t.Delta < 1, t.Delta)
	bad("training.iterations", t.Iterations >= 0, t.Iterations)
	bad("training.factors", t.Factors >= 0, t.Factors)
	bad("training.lambda", t.Lambda >= 0, t.Lambda)
	bad("training.alpha", t.Alpha >= 0, t.Alpha)
	bad("training.max_items_per_user", t.MaxItemsPerUser >= 0, t.MaxItemsPerUser)
	bad("training.clip", t.Clip >= 0, t.Clip)
	bad("training.rank", t.Rank >= 0, t.Rank)
	bad("training.strength_cap", t.StrengthCap >= 0, t.StrengthCap)
	bad("training.keep_releases", t.KeepReleases >= 0, t.KeepReleases)
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
	s.cap = budget.Cap{Epsilon: float64(pc.CapEpsilon), Delta: pc.CapDelta}
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
