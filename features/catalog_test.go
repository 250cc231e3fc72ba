package features

import (
	"encoding/json"
	"testing"
)

func TestCatalogueJSONDefaults(t *testing.T) {
	tests := []struct {
		in         string
		wantActive bool
		wantErr    bool
	}{
		{`{"item":"SKU-1"}`, true, false},
		{`{"item":"SKU-1","active":false}`, false, false},
		{`{"item":"SKU-1","active":true}`, true, false},
		{`{"item":"SKU-1","comment":"free text"}`, false, true},
	}
	for _, tt := range tests {
		var it Item
		err := json.Unmarshal([]byte(tt.in), &it)
		if (err != nil) != tt.wantErr || (err == nil && it.Active != tt.wantActive) {
			t.Errorf("Unmarshal(%s) = %+v, %v; want active %v, error %v", tt.in, it, err, tt.wantActive, tt.wantErr)
		}
		var c Coupon
		err = json.Unmarshal([]byte(tt.in), &c)
		if (err != nil) != tt.wantErr || (err == nil && c.Active != tt.wantActive) {
			t.Errorf("Unmarshal coupon (%s) = %+v, %v; want active %v, error %v", tt.in, c, err, tt.wantActive, tt.wantErr)
		}
	}
}
