package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

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
}

// settings is the resolved configuration used by the commands.
type settings struct {
	retention retention.Policy
	consent   consent.Defaults
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
	return s, errors.Join(errs...)
}
