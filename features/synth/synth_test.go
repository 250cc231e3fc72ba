package synth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/privacy"
)

type dataset struct {
	events, consent, items []byte
	sum                    synth.Summary
}

func generate(t testing.TB, cfg synth.Config) dataset {
	t.Helper()
	var ev, co, it bytes.Buffer
	sum, err := synth.Generate(context.Background(), cfg, synth.Output{Events: &ev, Consent: &co, Items: &it}, nil)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", cfg, err)
	}
	return dataset{ev.Bytes(), co.Bytes(), it.Bytes(), sum}
}

func lines(b []byte) int { return bytes.Count(b, []byte("\n")) }

func TestDeterminism(t *testing.T) {
	cfg := synth.Config{Customers: 300, Items: 200, Stores: 4, Events: 6000, Seed: 42}
	a, b := generate(t, cfg), generate(t, cfg)
	if !bytes.Equal(a.events, b.events) || !bytes.Equal(a.consent, b.consent) || !bytes.Equal(a.items, b.items) {
		t.Errorf("two runs with seed 42 differ")
	}
	// Consent output does not influence the events.
	var ev bytes.Buffer
	if _, err := synth.Generate(context.Background(), cfg, synth.Output{Events: &ev}, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ev.Bytes(), a.events) {
		t.Errorf("events differ when consent and items are not written")
	}
	cfg.Seed = 43
	if c := generate(t, cfg); bytes.Equal(a.events, c.events) || bytes.Equal(a.consent, c.consent) || bytes.Equal(a.items, c.items) {
		t.Errorf("seeds 42 and 43 give identical output")
	}
}

func TestSizes(t *testing.T) {
	tests := []synth.Config{
		{},
		{Customers: 50, Items: 30, Stores: 2, Events: 10}, // fewer events than customers
		{Customers: 1, Items: 20, Stores: 1, Events: 2000},
		{Customers: 200, Items: 5, Stores: 5, Categories: 2, Events: 3000},
		{Customers: 100, Items: 40, Stores: 3, Events: 1500, Skew: 2.5, Consent: &synth.ConsentMix{}},
		{Customers: 100, Items: 40, Stores: 3, Events: 1500, Consent: &synth.ConsentMix{Personalization: 1, InStore: 1, Withdraw: 1}},
		{Customers: 20, Items: 3, Events: 200}, // 3 stores: the default 8 is more than the items
		{Customers: 30, Items: 40, Events: 700, Start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 1, 1, 0, 2, 0, 0, time.UTC)},
	}
	for _, cfg := range tests {
		d := generate(t, cfg)
		want := cfg
		for _, f := range []struct {
			v   *int
			def int
		}{{&want.Customers, 2000}, {&want.Items, 1000}, {&want.Stores, 8}, {&want.Events, 100_000}} {
			if *f.v == 0 {
				*f.v = f.def
			}
		}
		if cfg.Stores == 0 {
			want.Stores = min(8, want.Items)
		}
		s := d.sum
		if lines(d.events) != want.Events || s.Events != want.Events || s.Views+s.Carts+s.Purchases+s.Visits != s.Events {
			t.Errorf("%+v: %d event lines, summary %+v; want %d", cfg, lines(d.events), s, want.Events)
		}
		if lines(d.items) != want.Items || s.Items != want.Items || s.Customers != want.Customers || s.Stores != want.Stores {
			t.Errorf("%+v: %d item lines, summary %+v; want %d items", cfg, lines(d.items), s, want.Items)
		}
		if lines(d.consent) != s.ConsentRecords {
			t.Errorf("%+v: %d consent lines, summary says %d", cfg, lines(d.consent), s.ConsentRecords)
		}
		if cfg.Consent != nil && cfg.Consent.Personalization == 0 && (s.Personalization != 0 || s.InStore != 0) {
			t.Errorf("%+v: consent share 0 gave %+v", cfg, s)
		}
		if cfg.Consent != nil && cfg.Consent.Withdraw == 1 && (s.Personalization != want.Customers || s.Withdrawn != want.Customers || s.InStore != want.Customers) {
			t.Errorf("%+v: consent shares 1 gave %+v", cfg, s)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg  synth.Config
		want []string // substrings of the error; none means valid
	}{
		{synth.Config{}, nil},
		{synth.Config{Customers: 1, Items: 1, Stores: 1, Events: 1}, nil},
		{synth.Config{Customers: -1}, []string{"customers"}},
		{synth.Config{Items: synth.MaxItems + 1, Events: -5}, []string{"items", "events"}},
		{synth.Config{Items: 1}, nil}, // one store and one category by default
		{synth.Config{Items: 3, Stores: 4}, []string{"stores 4 is more than items 3: a store stocks at least one item; lower Stores or raise Items"}},
		{synth.Config{Items: 1, Stores: 8}, []string{"stores 8 is more than items 1"}},
		{synth.Config{Stores: -1}, []string{"stores -1 out of range 1..1000"}},
		{synth.Config{Items: 1_000_000, Stores: 100}, []string{"items 1000000 × stores 100 = 100000000 stock entries, above the limit of 50000000; lower Items or Stores"}},
		{synth.Config{Items: 3, Categories: 4}, []string{"categories 4 is more than items 3: a category holds at least one item"}},
		{synth.Config{Categories: -1}, []string{"categories -1 out of range"}},
		{synth.Config{Skew: -1}, []string{"skew"}},
		{synth.Config{Start: synth.DefaultEnd}, []string{"period"}},
		{synth.Config{End: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}, []string{"1970"}},
		{synth.Config{Consent: &synth.ConsentMix{Personalization: 1.5, Withdraw: -0.1}}, []string{"personalization", "withdraw"}},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if len(tt.want) == 0 {
			if err != nil {
				t.Errorf("Validate(%+v) = %v, want nil", tt.cfg, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("Validate(%+v) = nil, want an error about %v", tt.cfg, tt.want)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) || !strings.HasPrefix(err.Error(), "synth: ") {
				t.Errorf("Validate(%+v) = %q, want it to mention %q", tt.cfg, err, w)
			}
		}
		if _, gerr := synth.Generate(context.Background(), tt.cfg, synth.Output{Events: io.Discard}, nil); gerr == nil {
			t.Errorf("Generate(%+v) = nil error, want %v", tt.cfg, err)
		}
	}
	if _, err := synth.Generate(context.Background(), synth.Config{}, synth.Output{}, nil); err == nil {
		t.Errorf("Generate without an events writer: nil error")
	}
}

// decoded is a dataset read back with eventfile.
type decoded struct {
	events  []features.RawEvent
	consent []eventfile.ConsentRecord
	items   []synth.Item
}

func decodeAll(t *testing.T, d dataset) decoded {
	t.Helper()
	var out decoded
	for r, err := range eventfile.Read(context.Background(), bytes.NewReader(d.events), eventfile.Options{}) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Err != nil || r.Skip != "" {
			t.Fatalf("line %d: %v %s", r.Line, r.Err, r.Skip)
		}
		out.events = append(out.events, r.Event)
	}
	for r, err := range eventfile.ReadConsent(context.Background(), bytes.NewReader(d.consent)) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Err != nil {
			t.Fatalf("consent line %d: %v", r.Line, r.Err)
		}
		out.consent = append(out.consent, r)
	}
	for it, err := range synth.ReadItems(context.Background(), bytes.NewReader(d.items)) {
		if err != nil {
			t.Fatal(err)
		}
		out.items = append(out.items, it)
	}
	return out
}

func TestOutputDecodes(t *testing.T) {
	cfg := synth.Config{Customers: 400, Items: 300, Stores: 5, Events: 12_000, Seed: 3}
	d := generate(t, cfg)
	if f, err := eventfile.Detect(d.events, ""); f != eventfile.Discret || err != nil {
		t.Errorf("Detect(events) = %q, %v; want discret", f, err)
	}
	out := decodeAll(t, d)
	if len(out.events) != cfg.Events || len(out.consent) != d.sum.ConsentRecords || len(out.items) != cfg.Items {
		t.Fatalf("decoded %d events, %d consent records, %d items; want %d, %d, %d",
			len(out.events), len(out.consent), len(out.items), cfg.Events, d.sum.ConsentRecords, cfg.Items)
	}
	items, err := synth.Catalogue(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(items, out.items, func(a, b synth.Item) bool {
		return a.ID == b.ID && a.Category == b.Category && slices.Equal(a.Stores, b.Stores)
	}) {
		t.Errorf("Catalogue(cfg) differs from the items written by Generate")
	}
	stocks := map[string]bool{}
	for _, it := range items {
		for _, s := range it.Stores {
			stocks[it.ID+"@"+s] = true
		}
	}
	start, end := cfg.Start, cfg.End
	if end.IsZero() {
		end = synth.DefaultEnd
		start = end.Add(-synth.DefaultPeriod)
	}
	// Withdrawal times by customer: a refusal after a grant.
	granted := map[privacy.CustomerID]bool{}
	withdrawn := map[privacy.CustomerID]time.Time{}
	for _, c := range out.consent {
		if !c.Change.Time.Before(start) && !c.Change.Time.After(end) {
			if c.Change.Purpose == privacy.Personalization {
				if c.Change.Granted {
					granted[c.Customer] = true
				} else if granted[c.Customer] {
					withdrawn[c.Customer] = c.Change.Time
				}
			}
		} else {
			t.Errorf("consent change at %v outside %v – %v", c.Change.Time, start, end)
		}
	}
	if len(withdrawn) != d.sum.Withdrawn || len(withdrawn) == 0 {
		t.Errorf("%d withdrawals in the consent file, summary says %d", len(withdrawn), d.sum.Withdrawn)
	}
	var prev features.RawEvent
	lastVisit := ""
	for i, e := range out.events {
		if e.Time.Before(start) || e.Time.After(end) {
			t.Fatalf("event %d at %v outside %v – %v", i, e.Time, start, end)
		}
		if e.Customer == prev.Customer && e.Time.Before(prev.Time) {
			t.Fatalf("event %d at %v before the customer's previous one at %v", i, e.Time, prev.Time)
		}
		if w, ok := withdrawn[e.Customer]; ok && !e.Time.Before(w) {
			t.Fatalf("event %d at %v after the customer withdrew at %v", i, e.Time, w)
		}
		if e.Customer != prev.Customer {
			lastVisit = ""
		}
		switch {
		case e.Kind == privacy.StoreVisit:
			lastVisit = e.Store
		case e.Store != "":
			if e.Kind != privacy.Purchase || e.Store != lastVisit || !stocks[e.Item+"@"+e.Store] {
				t.Fatalf("event %d: %v of %s at %s after a visit to %q (stocked: %v)", i, e.Kind, e.Item, e.Store, lastVisit, stocks[e.Item+"@"+e.Store])
			}
		}
		prev = e
	}
}

// TestRawIDs checks that raw identifiers look like loyalty numbers or
// e-mail addresses and are distinct across customers.
func TestRawIDs(t *testing.T) {
	cfg := synth.Config{Customers: 3000, Events: 3000, Seed: 9}
	d := generate(t, cfg)
	re := regexp.MustCompile(`"customer":"([^"]*)"`)
	loyalty := regexp.MustCompile(`^LOY-[1-9][0-9]{7}$`)
	email := regexp.MustCompile(`^[a-z]+\.[a-z]+\.[0-9]+@example\.(com|org|net)$`)
	ids := map[string]bool{}
	emails := 0
	for _, m := range re.FindAllSubmatch(d.events, -1) {
		id := string(m[1])
		if ids[id] {
			continue
		}
		ids[id] = true
		switch {
		case email.MatchString(id):
			emails++
		case !loyalty.MatchString(id):
			t.Errorf("customer id %q is neither a loyalty number nor an e-mail address", id)
		}
	}
	// One event each: every customer appears once.
	if len(ids) != cfg.Customers {
		t.Errorf("%d distinct customers, want %d", len(ids), cfg.Customers)
	}
	if share := float64(emails) / float64(len(ids)); math.Abs(share-0.2) > 0.03 {
		t.Errorf("e-mail share = %.3f, want 0.2 ± 0.03", share)
	}
}

// TestShape checks the behavioural properties of the data.
func TestShape(t *testing.T) {
	cfg := synth.Config{Customers: 2000, Items: 1000, Stores: 6, Events: 60_000, Seed: 11}
	d := generate(t, cfg)
	out := decodeAll(t, d)
	var views, carts, onlineBuys, storeBuys, visits, repeats int
	bought := map[string]bool{}
	perItem := map[string]int{}
	for _, e := range out.events {
		switch e.Kind {
		case privacy.View:
			views++
		case privacy.AddToCart:
			carts++
		case privacy.Purchase:
			if e.Store == "" {
				onlineBuys++
			} else {
				storeBuys++
			}
		case privacy.StoreVisit:
			visits++
		}
		if e.Item != "" {
			perItem[e.Item]++
		}
	}
	// Repeat purchases: the same customer buying the same item again. The
	// CustomerID is comparable, so it can key a map.
	type pair struct {
		c    privacy.CustomerID
		item string
	}
	seen := map[pair]bool{}
	for _, e := range out.events {
		if e.Kind != privacy.Purchase {
			continue
		}
		p := pair{e.Customer, e.Item}
		if seen[p] {
			repeats++
		}
		seen[p] = true
		bought[e.Item] = true
	}
	purchases := onlineBuys + storeBuys
	t.Logf("views %d, carts %d, online purchases %d, store visits %d, store purchases %d, repeats %d", views, carts, onlineBuys, visits, storeBuys, repeats)
	if !(views > 2*carts && carts > onlineBuys && onlineBuys > 0) {
		t.Errorf("online funnel views %d > 2·carts %d > purchases %d > 0 does not hold", views, carts, onlineBuys)
	}
	if visits == 0 || storeBuys < visits {
		t.Errorf("store visits %d, store purchases %d; want visits > 0 and at least one purchase per visit", visits, storeBuys)
	}
	if share := float64(repeats) / float64(purchases); share < 0.05 || share > 0.6 {
		t.Errorf("repeat purchase share = %.3f, want 0.05–0.6", share)
	}
	// Popularity skew: the top 10% of items draw a large share of
	// interactions, and not all items get any.
	counts := make([]int, 0, len(perItem))
	total := 0
	for _, n := range perItem {
		counts = append(counts, n)
		total += n
	}
	slices.Sort(counts)
	slices.Reverse(counts)
	top := 0
	for _, n := range counts[:cfg.Items/10] {
		top += n
	}
	if share := float64(top) / float64(total); share < 0.4 {
		t.Errorf("top 10%% of items have %.2f of interactions, want ≥ 0.4", share)
	} else {
		t.Logf("top 10%% of items: %.2f of interactions; %d of %d items seen", share, len(perItem), cfg.Items)
	}
	// Consent shares, within 4 standard errors of the configured ones.
	s := d.sum
	near := func(name string, got, n int, p float64) {
		se := math.Sqrt(p * (1 - p) / float64(n))
		if share := float64(got) / float64(n); math.Abs(share-p) > 4*se {
			t.Errorf("%s share = %.3f (%d of %d), want %.3f ± %.3f", name, share, got, n, p, 4*se)
		}
	}
	near("personalization", s.Personalization, cfg.Customers, synth.DefaultConsent.Personalization)
	near("in_store", s.InStore, s.Personalization, synth.DefaultConsent.InStore)
	near("withdraw", s.Withdrawn, s.Personalization, synth.DefaultConsent.Withdraw)
	var grants, declines int
	for _, c := range out.consent {
		if c.Change.Purpose == privacy.Personalization {
			if c.Change.Granted {
				grants++
			} else {
				declines++
			}
		}
	}
	if grants != s.Personalization || declines < s.Withdrawn || declines > s.Withdrawn+cfg.Customers-s.Personalization {
		t.Errorf("consent file: %d grants, %d refusals; summary %+v", grants, declines, s)
	}
}

// TestCollaborativeSignal checks that the data rewards collaborative
// filtering: an item-based cosine k-NN on co-occurrence (no side
// information) recalls held-out items much better than most-popular.
func TestCollaborativeSignal(t *testing.T) {
	cfg := synth.Config{Customers: 1000, Items: 400, Stores: 4, Events: 40_000, Seed: 5}
	out := decodeAll(t, generate(t, cfg))
	itemIdx := map[string]int{}
	userIdx := map[privacy.CustomerID]int{}
	var users [][]int // distinct items per user, in first-seen order
	for _, e := range out.events {
		if e.Item == "" {
			continue
		}
		i, ok := itemIdx[e.Item]
		if !ok {
			i = len(itemIdx)
			itemIdx[e.Item] = i
		}
		u, ok := userIdx[e.Customer]
		if !ok {
			u = len(users)
			userIdx[e.Customer] = u
			users = append(users, nil)
		}
		if !slices.Contains(users[u], i) {
			users[u] = append(users[u], i)
		}
	}
	n := len(itemIdx)
	// Hold out 20% of each user's items, chosen with a seeded shuffle.
	rng := rand.New(rand.NewPCG(1, 2))
	train, test := make([][]int, len(users)), make([][]int, len(users))
	for u, items := range users {
		items = slices.Clone(items)
		rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
		k := len(items) / 5
		if len(items) >= 5 && k > 0 {
			test[u], train[u] = items[:k], items[k:]
		} else {
			train[u] = items
		}
	}
	pop := make([]float64, n)
	cooc := make([]float64, n*n)
	for _, items := range train {
		for _, i := range items {
			pop[i]++
			for _, j := range items {
				if i != j {
					cooc[i*n+j]++
				}
			}
		}
	}
	recall := func(score func(u int, s []float64)) float64 {
		var sum float64
		var count int
		s := make([]float64, n)
		idx := make([]int, n)
		for u := range users {
			if len(test[u]) == 0 {
				continue
			}
			clear(s)
			score(u, s)
			for _, i := range train[u] {
				s[i] = math.Inf(-1)
			}
			for i := range idx {
				idx[i] = i
			}
			slices.SortStableFunc(idx, func(a, b int) int { return -cmpFloat(s[a], s[b]) })
			hits := 0
			for _, i := range idx[:10] {
				if slices.Contains(test[u], i) {
					hits++
				}
			}
			sum += float64(hits) / float64(min(10, len(test[u])))
			count++
		}
		return sum / float64(count)
	}
	popular := recall(func(u int, s []float64) { copy(s, pop) })
	knn := recall(func(u int, s []float64) {
		for _, i := range train[u] {
			for j := range n {
				if c := cooc[i*n+j]; c > 0 {
					s[j] += c / math.Sqrt(pop[i]*pop[j])
				}
			}
		}
	})
	t.Logf("recall@10: most-popular %.3f, item k-NN %.3f", popular, knn)
	if popular <= 0 || knn < 1.5*popular {
		t.Errorf("recall@10 item k-NN %.3f, most-popular %.3f; want k-NN ≥ 1.5 × most-popular", knn, popular)
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestProgressAndCancel(t *testing.T) {
	cfg := synth.Config{Customers: 2000, Events: 3*synth.ProgressEvery + 5}
	var calls [][2]int
	_, err := synth.Generate(context.Background(), cfg, synth.Output{Events: io.Discard}, func(done, total int) {
		calls = append(calls, [2]int{done, total})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) < 4 || calls[len(calls)-1] != [2]int{cfg.Events, cfg.Events} {
		t.Fatalf("progress calls %v, want ≥ 4 ending with (%d, %d)", calls, cfg.Events, cfg.Events)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i][0] < calls[i-1][0] || calls[i][1] != cfg.Events {
			t.Errorf("progress calls %v: not increasing", calls)
			break
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err = synth.Generate(ctx, cfg, synth.Output{Events: io.Discard}, func(done, total int) {
		if n++; n == 1 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Generate after cancel = %v, want context.Canceled", err)
	}
	failing := errors.New("disk full")
	if _, err := synth.Generate(context.Background(), cfg, synth.Output{Events: errWriter{failing}}, nil); !errors.Is(err, failing) {
		t.Errorf("Generate to a failing writer = %v, want %v", err, failing)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg := synth.Config{Customers: 100, Items: 50, Stores: 3, Events: 1000, Seed: 1}
	sum, err := synth.WriteDir(context.Background(), dir, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{synth.ConsentFile, synth.EventsFile, synth.ItemsFile}; !slices.Equal(names, want) {
		t.Errorf("WriteDir wrote %v, want %v", names, want)
	}
	d := generate(t, cfg)
	for name, want := range map[string][]byte{synth.EventsFile: d.events, synth.ConsentFile: d.consent, synth.ItemsFile: d.items} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from Generate's output (%v)", name, err)
		}
	}
	if sum != d.sum {
		t.Errorf("WriteDir summary %+v, Generate %+v", sum, d.sum)
	}
	if _, err := synth.WriteDir(context.Background(), dir, synth.Config{Customers: -1}, nil); err == nil {
		t.Errorf("WriteDir(invalid config) = nil error")
	}
}

func TestReadItemsErrors(t *testing.T) {
	tests := []struct {
		in    string
		line  int
		field string
	}{
		{`{"item":"SKU-1","category":"dairy","stores":[]}` + "\n" + `{"item":"SKU-2","category":"dairy","price":3}`, 2, "record"},
		{`{"item":"","category":"dairy"}`, 1, "item"},
		{`{"item":"a","category":"dairy","stores":["s\u0001"]}`, 1, "stores"},
		{"\n\nnot json", 3, "record"},
	}
	for _, tt := range tests {
		var last error
		for _, err := range synth.ReadItems(context.Background(), strings.NewReader(tt.in)) {
			last = err
		}
		var re *features.RowError
		var fe *features.FieldError
		if !errors.As(last, &re) || re.Row != tt.line || !errors.As(last, &fe) || fe.Field != tt.field {
			t.Errorf("ReadItems(%q) error = %v, want row %d, field %s", tt.in, last, tt.line, tt.field)
		}
	}
}

// TestConstantMemory checks that the live heap does not grow with the
// number of events: the generator streams.
func TestConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("slow in -short mode")
	}
	peak := func(events int) uint64 {
		var m runtime.MemStats
		var max uint64
		cfg := synth.Config{Customers: 5000, Items: 2000, Events: events}
		_, err := synth.Generate(context.Background(), cfg, synth.Output{Events: io.Discard, Consent: io.Discard}, func(done, total int) {
			runtime.GC()
			runtime.ReadMemStats(&m)
			max = maxU(max, m.HeapAlloc)
		})
		if err != nil {
			t.Fatal(err)
		}
		return max
	}
	small, large := peak(2*synth.ProgressEvery), peak(12*synth.ProgressEvery)
	t.Logf("peak live heap: %d KiB for %d events, %d KiB for %d events", small>>10, 2*synth.ProgressEvery, large>>10, 12*synth.ProgressEvery)
	// Six times the events (about 85 MB of output) may not add more than
	// 4 MiB of live heap.
	if large > small+4<<20 {
		t.Errorf("live heap grows with events: %d → %d bytes", small, large)
	}
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// countingWriter counts bytes written.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// BenchmarkGenerate measures generation speed in events/s and output MB/s.
func BenchmarkGenerate(b *testing.B) {
	for _, events := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("events=%d", events), func(b *testing.B) {
			cfg := synth.Config{Customers: max(100, events/50), Items: 5000, Stores: 10, Events: events}
			var w countingWriter
			if _, err := synth.Generate(context.Background(), cfg, synth.Output{Events: &w}, nil); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(w.n)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := synth.Generate(context.Background(), cfg, synth.Output{Events: io.Discard, Consent: io.Discard}, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
