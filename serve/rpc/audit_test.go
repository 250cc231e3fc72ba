package rpc_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/auth"
)

// TestExportAuditField: a customer's export lists the audit entries about
// them with their time, action and channel, never the API key (id or
// name) that acted; the audit RPCs name it.
func TestExportAuditField(t *testing.T) {
	key := auth.Key{ID: "k3x9", Name: "dpo-console", Scope: auth.Admin}
	for _, tt := range []struct {
		name      string
		caller    bool
		wantActor string
	}{
		{"an API key", true, "api"},
		{"no caller", false, "unknown"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			s := f.servers()
			ctx := t.Context()
			if tt.caller {
				ctx = auth.NewContext(ctx, auth.Caller{Key: key})
			}
			c := "frank@example.com"
			grant(f, t, c, "personalization")
			if _, err := s.ExportCustomer(ctx, &discretv1.ExportCustomerRequest{Customer: c}); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(time.Second)
			exp, err := s.ExportCustomer(ctx, &discretv1.ExportCustomerRequest{Customer: c})
			if err != nil {
				t.Fatal(err)
			}
			a := exp.GetAudit()
			if len(a) != 1 || a[0].GetAction() != "export" || a[0].GetActor() != tt.wantActor || !a[0].GetTime().AsTime().Equal(f.clock.Now().Add(-time.Second).Truncate(time.Second)) {
				t.Fatalf("ExportCustomer().Audit = %v, want the first export, through %s", a, tt.wantActor)
			}
			if js := protojson.Format(exp); strings.Contains(js, key.ID) || strings.Contains(js, key.Name) {
				t.Errorf("the export names the API key that acted:\n%s", js)
			}
			list, err := s.ListAuditEntries(ctx, &discretv1.ListAuditEntriesRequest{})
			if err != nil || len(list.GetEntries()) != 2 {
				t.Fatalf("ListAuditEntries = %v, %v; want the two exports", list, err)
			}
			if got := list.GetEntries()[0].GetActor(); tt.caller && (got.GetKeyId() != key.ID || got.GetName() != key.Name) {
				t.Errorf("ListAuditEntries actor = %v, want key %s (%s)", got, key.ID, key.Name)
			}
		})
	}
}
