package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
)

// e2e drives a real `discret` binary.
type e2e struct {
	t         *testing.T
	bin       string
	data, key string
	token     string
	httpBase  string
	grpc      *grpc.ClientConn
}

// buildBinary builds cmd/discret into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "discret")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cli runs the binary with the test's data directory and key.
func (x *e2e) cli(args ...string) (code int, stdout, stderr string) {
	x.t.Helper()
	cmd := exec.Command(x.bin, append(args, "--data", x.data, "--key", x.key)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errOut.String()
	} else if err != nil {
		x.t.Fatalf("run %v: %v", args, err)
	}
	return 0, out.String(), errOut.String()
}

// rest sends a JSON request with the API key and decodes the JSON answer.
func (x *e2e) rest(method, path string, body any) (int, map[string]any) {
	x.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			x.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(x.t.Context(), method, x.httpBase+path, r)
	if err != nil {
		x.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+x.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		x.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 && json.Unmarshal(raw, &m) != nil {
		m = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, m
}

func (x *e2e) rpc() context.Context {
	return metadata.AppendToOutgoingContext(x.t.Context(), "authorization", "Bearer "+x.token)
}

var e2eServingRE = regexp.MustCompile(`serving gRPC on (\S+) and REST on (\S+) `)

// nodeClientDir is the Node client of the API, from this package's
// directory.
var nodeClientDir = filepath.Join("..", "..", "serve", "api", "clients", "node")

// TestEndToEnd is the acceptance test of the serving issue: it builds and
// starts the real binary on loopback, writes the catalogue, consent and
// events, trains through the server, gets recommendations over gRPC and
// REST, enters a store, checks what the customer's export holds, forgets
// the customer and checks every answer; a Node client (when node and its
// dependencies are installed) calls Recommend through the .proto.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the discret binary")
	}
	dir := t.TempDir()
	x := &e2e{t: t, bin: buildBinary(t), data: filepath.Join(dir, "data"), key: filepath.Join(dir, "discret.key")}
	if code, _, errOut := x.cli("keygen"); code != 0 {
		t.Fatalf("keygen = %d: %s", code, errOut)
	}
	code, out, errOut := x.cli("apikey", "create", "--name", "e2e", "--scope", "all")
	if x.token = tokenRE.FindString(out); code != 0 || x.token == "" {
		t.Fatalf("apikey create = %d: %s %s", code, out, errOut)
	}

	// The catalogue: 40 items in two stores, by CLI import.
	const nItems = 40
	var items bytes.Buffer
	for j := range nItems {
		fmt.Fprintf(&items, `{"item":"SKU-%02d","category":"c%d","stores":["s%d"],"active":true}`+"\n", j, j%2, j%2)
	}
	itemsFile := filepath.Join(dir, "items.jsonl")
	if err := os.WriteFile(itemsFile, items.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := x.cli("items", "import", itemsFile); code != 0 || !strings.Contains(out, "stored 40 items") {
		t.Fatalf("items import = %d: %s %s", code, out, errOut)
	}
	// Every file of the data directory is its owner's only (the binary
	// sets its umask: Badger would create them world-readable); compact
	// writes the tables.
	if code, _, errOut := x.cli("compact"); code != 0 {
		t.Fatalf("compact = %d: %s", code, errOut)
	}
	if runtime.GOOS != "windows" {
		err := filepath.WalkDir(x.data, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if info, err := d.Info(); err != nil || info.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s: mode %v, %v; want no access for group and others", path, info.Mode().Perm(), err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// Start the server.
	srv := exec.Command(x.bin, "serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--data", x.data, "--key", x.key, "--log-level", "warn")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var serverErr bytes.Buffer
	srv.Stderr = &serverErr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		exited <- srv.Wait()
	}()
	t.Cleanup(func() {
		if srv.ProcessState == nil {
			srv.Process.Kill()
		}
	})
	var grpcAddr string
	deadline := time.After(60 * time.Second)
	for grpcAddr == "" {
		select {
		case l := <-lines:
			if m := e2eServingRE.FindStringSubmatch(l); m != nil {
				grpcAddr, x.httpBase = m[1], "http://"+m[2]
			}
		case err := <-exited:
			t.Fatalf("serve exited: %v\n%s", err, serverErr.String())
		case <-deadline:
			t.Fatalf("serve did not start\n%s", serverErr.String())
		}
	}
	if x.grpc, err = grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		t.Fatal(err)
	}
	defer x.grpc.Close()
	recs := discretv1.NewRecommendationServiceClient(x.grpc)
	if resp, err := http.Get(x.httpBase + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz before training = %v, %v; want 503", resp, err)
	}

	// Admin RPCs: deactivate an item; coupons in store s0.
	if code, m := x.rest("PUT", "/v1/items/SKU-38", map[string]any{"category": "c0", "stores": []string{"s0"}, "active": false}); code != 200 || m["active"] != false {
		t.Errorf("PUT item = %d %v", code, m)
	}
	now := time.Now().UTC()
	for i, item := range []string{"SKU-00", "SKU-02", "SKU-04", "SKU-06", "SKU-08"} {
		body := map[string]any{"item": item, "stores": []string{"s0"}, "value": fmt.Sprintf("-%d%%", 10+5*i), "active": true,
			"valid_from": now.Add(-time.Hour).Format(time.RFC3339), "valid_until": now.Add(30 * 24 * time.Hour).Format(time.RFC3339)}
		if code, m := x.rest("PUT", fmt.Sprintf("/v1/coupons/C-%d", i), body); code != 200 || m["coupon"] != fmt.Sprintf("C-%d", i) {
			t.Errorf("PUT coupon = %d %v", code, m)
		}
	}

	// Consent (gRPC) and events (REST) of 600 customers in two taste
	// groups (even and odd items): each buys the four "head" items of their
	// group (SKU-00 to SKU-07) and two others. Alice buys five of the eight
	// heads, so that her history meets the trained universe whatever its
	// size (training may give vectors only to the most used items).
	consentSvc := discretv1.NewConsentServiceClient(x.grpc)
	grant := func(c string) {
		_, err := consentSvc.SetConsent(x.rpc(), &discretv1.SetConsentRequest{Customer: c, Changes: []*discretv1.ConsentChange{
			{Purpose: "personalization", Granted: proto.Bool(true), Source: "e2e"}, {Purpose: "in_store", Granted: proto.Bool(true), Source: "e2e"},
		}})
		if err != nil {
			t.Fatalf("SetConsent: %v", err)
		}
	}
	var events []map[string]any
	purchase := func(c string, j, minutesAgo int) {
		events = append(events, map[string]any{"customer": c, "item": fmt.Sprintf("SKU-%02d", j), "type": "purchase",
			"time": now.Add(-time.Duration(minutesAgo) * time.Minute).Format(time.RFC3339)})
	}
	for c := range 600 {
		id := fmt.Sprintf("customer-%03d", c)
		grant(id)
		for k := range 4 {
			purchase(id, 2*k+c%2, c+k)
		}
		for k := range 2 {
			purchase(id, 8+2*((c*7+k*5)%16)+c%2, c+4+k)
		}
	}
	const alice = "alice@example.com"
	grant(alice)
	bought := []string{"SKU-00", "SKU-01", "SKU-02", "SKU-03", "SKU-05"}
	for _, it := range bought {
		var j int
		fmt.Sscanf(it, "SKU-%d", &j)
		purchase(alice, j, 1)
	}
	if code, m := x.rest("POST", "/v1/events", map[string]any{"events": events}); code != 200 || m["stored"] != float64(len(events)) {
		t.Fatalf("POST /v1/events = %d %v; want %d stored", code, m, len(events))
	}

	// Train through the server (the data directory is locked: the CLI
	// refuses, pointing at the API).
	if code, _, errOut := x.cli("train"); code != exitFailure || !strings.Contains(errOut, "POST /v1/models:train") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("discret train while serving = %d %q; want one line pointing at POST /v1/models:train", code, errOut)
	}
	code, card := x.rest("POST", "/v1/models:train", map[string]any{"epsilon": 1})
	version, _ := card["version"].(string)
	if code != 200 || card["private"] != true || card["items"] != float64(nItems) || version == "" || math.Abs(card["epsilon"].(float64)-1) > 0.01 {
		t.Fatalf("POST /v1/models:train = %d %v", code, card)
	}
	if code, m := x.rest("POST", "/v1/models:train", map[string]any{"non_private": true}); code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(m["message"]), "--allow-non-private") {
		t.Errorf("non-private training = %d %v; want 400 FailedPrecondition naming --allow-non-private", code, m)
	}
	if resp, err := http.Get(x.httpBase + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/readyz after training = %v, %v; want 200", resp, err)
	}
	if code, m := x.rest("GET", "/v1/models/current", nil); code != 200 || m["version"] != version {
		t.Errorf("GET /v1/models/current = %d %v; want %s", code, m, version)
	}
	// /metrics has the trainer's and the store's series.
	if resp, err := http.Get(x.httpBase + "/metrics"); err != nil {
		t.Error(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`discret_training_runs_total{outcome="current",trigger="request"} 1`,
			`discret_privacy_releases{private="true"} 1`,
			"discret_privacy_epsilon_cap ",
			"discret_store_disk_bytes ",
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("/metrics after training lacks %s", want)
			}
		}
	}

	// Recommendations over gRPC and REST agree, are personalized and
	// leave out what Alice bought and the inactive item.
	g, err := recs.Recommend(x.rpc(), &discretv1.RecommendRequest{Customer: alice, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	var grpcItems []string
	for _, it := range g.GetItems() {
		grpcItems = append(grpcItems, it.GetItem())
		if slices.Contains(bought, it.GetItem()) || it.GetItem() == "SKU-38" {
			t.Errorf("gRPC Recommend returned %s (bought or inactive)", it.GetItem())
		}
	}
	if !g.GetPersonalized() || g.GetModelVersion() != version || len(grpcItems) != 5 {
		t.Errorf("gRPC Recommend = %v personalized %v version %s; want 5 personalized items from %s", grpcItems, g.GetPersonalized(), g.GetModelVersion(), version)
	}
	code, m := x.rest("GET", "/v1/customers/"+url.PathEscape(alice)+"/recommendations?limit=5", nil)
	var restItems []string
	for _, it := range m["items"].([]any) {
		restItems = append(restItems, it.(map[string]any)["item"].(string))
	}
	if _, ok := m["reason"]; code != 200 || m["personalized"] != true || ok || !slices.Equal(restItems, grpcItems) {
		t.Errorf("REST recommendations = %d %v; want the gRPC answer %v", code, m, grpcItems)
	}
	// Similar items of a head item that has a vector.
	similar := 0
	for j := range 8 {
		code, m := x.rest("GET", fmt.Sprintf("/v1/items/SKU-%02d/similar?limit=3", j), nil)
		switch {
		case code == 200 && len(m["items"].([]any)) > 0:
			similar++
		case code != http.StatusNotFound:
			t.Errorf("GET similar = %d %v", code, m)
		}
	}
	if similar == 0 {
		t.Error("no head item has similar items")
	}
	if code, m := x.rest("GET", "/v1/popular?store=s1&limit=5", nil); code != 200 || len(m["items"].([]any)) == 0 {
		t.Errorf("GET popular = %d %v", code, m)
	}

	// Entering a store: personalized coupons, then the day cap, which
	// offers the same coupons again (a retry after a lost answer).
	code, m = x.rest("POST", "/v1/stores/s0/entries", map[string]any{"customer": alice})
	if _, ok := m["visit_not_recorded_reason"]; code != 200 || m["visit_recorded"] != true || ok || m["personalized"] != true || len(m["coupons"].([]any)) != 3 {
		t.Errorf("enter store = %d %v; want 3 personalized coupons and the visit recorded", code, m)
	}
	first := fmt.Sprint(m["coupons"])
	code, m = x.rest("POST", "/v1/stores/s0/entries", map[string]any{"customer": alice})
	if code != 200 || m["capped"] != true || m["cap_reason"] == "" || m["repeated"] != true || fmt.Sprint(m["coupons"]) != first {
		t.Errorf("second entry = %d %v; want capped, with the first entry's coupons repeated", code, m)
	}
	code, m = x.rest("GET", "/v1/customers/"+url.PathEscape(alice)+":export", nil)
	if code != 200 || len(m["coupon_pushes"].([]any)) != 3 || !strings.Contains(fmt.Sprint(m["events"]), "store_visit") {
		t.Errorf("export = %d %v; want 3 coupon pushes and the store visits", code, m)
	}

	// The Node client, through the .proto.
	t.Run("node client", func(t *testing.T) {
		node, err := exec.LookPath("node")
		if err != nil {
			t.Skip("node is not on PATH")
		}
		if _, err := os.Stat(filepath.Join(nodeClientDir, "node_modules", "@grpc", "grpc-js")); err != nil {
			t.Skipf("the Node client's dependencies are not installed: run 'npm ci' in %s", nodeClientDir)
		}
		cmd := exec.Command(node, filepath.Join(nodeClientDir, "recommend.js"), "--addr", grpcAddr, "--key", x.token, "--customer", alice, "--limit", "5")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var resp struct {
			Items []struct {
				Item string `json:"item"`
			} `json:"items"`
			Personalized bool   `json:"personalized"`
			ModelVersion string `json:"model_version"`
		}
		if err != nil || json.Unmarshal(out, &resp) != nil {
			t.Fatalf("node recommend.js: %v: %s %s", err, out, stderr.String())
		}
		var nodeItems []string
		for _, it := range resp.Items {
			nodeItems = append(nodeItems, it.Item)
		}
		if !resp.Personalized || resp.ModelVersion != version || !slices.Equal(nodeItems, grpcItems) || bytes.Contains(out, []byte("reason")) {
			t.Errorf("node client answer = %s; want the gRPC answer %v, without a reason", out, grpcItems)
		}
		// A wrong key: UNAUTHENTICATED, exit status 1.
		cmd = exec.Command(node, filepath.Join(nodeClientDir, "recommend.js"), "--addr", grpcAddr, "--key", "dsk_wrong", "--customer", alice)
		stderr.Reset()
		cmd.Stderr = &stderr
		if err := cmd.Run(); cmd.ProcessState.ExitCode() != 1 || !strings.Contains(stderr.String(), "UNAUTHENTICATED") {
			t.Errorf("node client with a wrong key = %v, %q; want exit 1 and UNAUTHENTICATED", err, stderr.String())
		}
	})

	// Forget Alice: the very next answers hold nothing of hers.
	code, m = x.rest("DELETE", "/v1/customers/"+url.PathEscape(alice), nil)
	if removed, _ := m["removed"].(map[string]any); code != 200 || removed["events"] == nil || removed["coupon_pushes"] != "3" && removed["coupon_pushes"] != float64(3) {
		t.Errorf("DELETE customer = %d %v", code, m)
	}
	g, err = recs.Recommend(x.rpc(), &discretv1.RecommendRequest{Customer: alice, Limit: 5})
	if err != nil || g.GetPersonalized() || g.GetReason() != discretv1.NonPersonalizedReason_NON_PERSONALIZED_REASON_NO_CONSENT {
		t.Errorf("Recommend after forget = %v, %v; want NO_CONSENT", g, err)
	}
	code, m = x.rest("GET", "/v1/customers/"+url.PathEscape(alice)+":export", nil)
	if code != 200 || len(m["events"].([]any)) != 0 || len(m["coupon_pushes"].([]any)) != 0 || len(m["consent"].([]any)) != 0 {
		t.Errorf("export after forget = %d %v; want nothing", code, m)
	}
	// The audit trail holds the export and the erasure, under the key
	// that made them, and names Alice by an opaque reference only.
	code, m = x.rest("POST", "/v1/audit:search", map[string]any{"customer": alice, "actions": []string{"forget", "export"}})
	entries, _ := m["entries"].([]any)
	if code != 200 || len(entries) != 3 { // export, forget, export after forget
		t.Errorf("POST /v1/audit:search = %d %v; want Alice's two exports and her erasure", code, m)
	} else if e := entries[1].(map[string]any); e["action"] != "forget" || e["actor"].(map[string]any)["via"] != "api" || strings.Contains(fmt.Sprint(m), alice) {
		t.Errorf("audit entry of the erasure = %v; want forget by an API key, without Alice's id", e)
	}
	code, m = x.rest("POST", "/v1/stores/s0/entries", map[string]any{"customer": alice})
	if code != 200 || m["visit_recorded"] != false || m["visit_not_recorded_reason"] != "VISIT_NOT_RECORDED_REASON_NO_IN_STORE_CONSENT" || m["personalized"] != false || m["capped"] != false {
		t.Errorf("enter store after forget = %d %v; want generic offers", code, m)
	}

	// SIGTERM: drain and exit 0.
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v\n%s", err, serverErr.String())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("serve did not stop after SIGTERM")
	}
}
