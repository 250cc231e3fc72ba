package rpc_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/rpc"
)

// TestOpenAPIStatesLimits: the OpenAPI document, which clients read, states
// the limits the server enforces, with their real values.
func TestOpenAPIStatesLimits(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Summary     string `json:"summary"`
			Description string `json:"description"`
			Parameters  []struct {
				Name        string `json:"name"`
				Description string `json:"description"`
			} `json:"parameters"`
		} `json:"paths"`
		Definitions map[string]struct {
			Properties map[string]struct {
				Description string `json:"description"`
			} `json:"properties"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(discretv1.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	param := func(path, method, name string) string {
		for _, p := range doc.Paths[path][method].Parameters {
			if p.Name == name {
				return p.Description
			}
		}
		return ""
	}
	for _, tt := range []struct {
		where, desc string
		limit       int
	}{
		{"WriteEvents", doc.Paths["/v1/events"]["post"].Summary + doc.Paths["/v1/events"]["post"].Description, store.MaxBatchEvents},
		{"WriteEventsRequest.events", doc.Definitions["WriteEventsRequest"].Properties["events"].Description, store.MaxBatchEvents},
		{"Event.quantity", doc.Definitions["Event"].Properties["quantity"].Description, features.MaxQuantity},
		{"Recommend exclude", param("/v1/customers/{customer}/recommendations", "get", "exclude"), rpc.MaxExclude},
		{"SetConsent changes", doc.Definitions["SetConsentBody"].Properties["changes"].Description, rpc.MaxConsentChanges},
	} {
		if want := grouped(tt.limit); !strings.Contains(tt.desc, want) {
			t.Errorf("%s: description %q does not state the limit, %s", tt.where, tt.desc, want)
		}
	}
}

// grouped writes n with thousands separated by commas, as the
// documentation does: 4,096.
func grouped(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
