package synth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/privacy"
)

// Item is an entry of the item catalogue, as written to ItemsFile.
type Item struct {
	ID       string   `json:"item"`
	Category string   `json:"category"`
	Stores   []string `json:"stores"` // stores that stock it, in order; every item is also sold online
}

// stylesPerCategory is the number of taste groups per category.
const stylesPerCategory = 3

var categoryNames = []string{
	"fresh-produce", "dairy", "bakery", "beverages", "snacks", "frozen", "household", "personal-care",
	"baby", "pet-supplies", "kitchen", "home-decor", "garden", "toys", "books", "sports",
	"womens-clothing", "mens-clothing", "shoes", "beauty", "health", "stationery", "electronics", "seasonal",
}

// catalogue is the generated item catalogue and the samplers over it.
type catalogue struct {
	itemIDs, storeIDs, categories []string
	category                      []int32   // by item
	group                         []int32   // taste group by item: category*stylesPerCategory + style
	weight                        []float64 // popularity by item
	avail                         []uint64  // bit item*stores+store: the store stocks the item
	stores                        int
	groups                        []group   // by taste group
	groupPick                     alias     // taste groups by total popularity
	global                        alias     // items by popularity
	storeHome                     [][]int32 // by store: items whose home store it is
}

type group struct {
	items []int32
	pick  alias // over items, by popularity
}

// Catalogue returns the item catalogue of the dataset cfg describes, as
// Generate writes it.
func Catalogue(cfg Config) ([]Item, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newCatalogue(cfg.withDefaults()).items(), nil
}

func newCatalogue(cfg Config) *catalogue {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xca7a_1095))
	n := cfg.Items
	c := &catalogue{
		itemIDs:  make([]string, n),
		storeIDs: make([]string, cfg.Stores),
		category: make([]int32, n),
		group:    make([]int32, n),
		weight:   make([]float64, n),
		avail:    make([]uint64, (n*cfg.Stores+63)/64),
		stores:   cfg.Stores,
	}
	for i := range n {
		c.itemIDs[i] = "SKU-" + pad(i+1, max(6, digits(n)))
	}
	for s := range cfg.Stores {
		c.storeIDs[s] = "store-" + pad(s+1, max(2, digits(cfg.Stores)))
	}
	for k := range cfg.Categories {
		name := fmt.Sprintf("category-%02d", k+1)
		if k < len(categoryNames) {
			name = categoryNames[k]
		}
		c.categories = append(c.categories, name)
	}

	// Popularity: Zipf weights over a random ranking.
	rank := rng.Perm(n)
	for i := range n {
		c.weight[i] = 1 / math.Pow(float64(rank[i]+1), cfg.Skew)
	}
	// Categories of uneven sizes, none empty; styles at random.
	catWeight := make([]float64, cfg.Categories)
	for k := range catWeight {
		catWeight[k] = 0.5 + rng.Float64()
	}
	catPick := newAlias(catWeight)
	c.groups = make([]group, cfg.Categories*stylesPerCategory)
	for i := range n {
		k := i
		if i >= cfg.Categories {
			k = catPick.sample(rng)
		}
		g := k*stylesPerCategory + rng.IntN(stylesPerCategory)
		c.category[i], c.group[i] = int32(k), int32(g)
		c.groups[g].items = append(c.groups[g].items, int32(i))
	}
	groupWeight := make([]float64, len(c.groups))
	for g := range c.groups {
		w := make([]float64, len(c.groups[g].items))
		for j, it := range c.groups[g].items {
			w[j] = c.weight[it]
			groupWeight[g] += w[j]
		}
		if len(w) > 0 {
			c.groups[g].pick = newAlias(w)
		}
	}
	c.groupPick = newAlias(groupWeight)
	c.global = newAlias(c.weight)

	// Availability: every item in its home store (every store is home to
	// some item), popular items in more stores.
	c.storeHome = make([][]int32, cfg.Stores)
	for i := range n {
		home := i % cfg.Stores
		if i >= cfg.Stores {
			home = rng.IntN(cfg.Stores)
		}
		c.storeHome[home] = append(c.storeHome[home], int32(i))
		p := 0.25 + 0.7*(1-float64(rank[i])/float64(n))
		for s := range cfg.Stores {
			if s == home || rng.Float64() < p {
				b := i*cfg.Stores + s
				c.avail[b/64] |= 1 << (b % 64)
			}
		}
	}
	return c
}

// stocks reports whether store s stocks item i.
func (c *catalogue) stocks(s, i int) bool {
	b := i*c.stores + s
	return c.avail[b/64]&(1<<(b%64)) != 0
}

func (c *catalogue) items() []Item {
	items := make([]Item, len(c.itemIDs))
	for i := range items {
		items[i] = Item{ID: c.itemIDs[i], Category: c.categories[c.category[i]], Stores: []string{}}
		for s := range c.stores {
			if c.stocks(s, i) {
				items[i].Stores = append(items[i].Stores, c.storeIDs[s])
			}
		}
	}
	return items
}

// pad formats n with leading zeros to width digits.
func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

func digits(n int) int { return len(strconv.Itoa(n)) }

// alias samples an index with probability proportional to its weight in
// O(1): Vose's alias method (M. D. Vose, "A linear algorithm for generating
// random numbers with a given distribution", IEEE TSE 17(9), 1991).
type alias struct {
	prob  []float64
	alias []int32
}

func newAlias(w []float64) alias {
	n := len(w)
	var sum float64
	for _, x := range w {
		sum += x
	}
	a := alias{prob: make([]float64, n), alias: make([]int32, n)}
	scaled := make([]float64, n)
	var small, large []int32
	for i, x := range w {
		scaled[i] = x * float64(n) / sum
		if scaled[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small, large = small[:len(small)-1], large[:len(large)-1]
		a.prob[s], a.alias[s] = scaled[s], l
		scaled[l] = (scaled[l] + scaled[s]) - 1
		if scaled[l] < 1 {
			small = append(small, l)
		} else {
			large = append(large, l)
		}
	}
	for _, i := range slices.Concat(small, large) {
		a.prob[i], a.alias[i] = 1, i // rounding leftovers
	}
	return a
}

func (a *alias) sample(r *rand.Rand) int {
	i := r.IntN(len(a.prob))
	if r.Float64() < a.prob[i] {
		return i
	}
	return int(a.alias[i])
}

// WriteItems writes items as JSON Lines.
func WriteItems(w io.Writer, items []Item) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return fmt.Errorf("synth: write items: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("synth: write items: %w", err)
	}
	return nil
}

// ReadItems decodes an item catalogue written by WriteItems. It yields each
// item, or a *features.RowError naming the line and field of a bad one and
// ends.
func ReadItems(ctx context.Context, r io.Reader) iter.Seq2[Item, error] {
	return func(yield func(Item, error) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		line := 0
		for sc.Scan() {
			line++
			if line%1024 == 0 {
				if err := ctx.Err(); err != nil {
					yield(Item{}, err)
					return
				}
			}
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			it, err := parseItem(sc.Bytes())
			if err != nil {
				yield(Item{}, fmt.Errorf("synth: items: %w", &features.RowError{Row: line, Err: err}))
				return
			}
			if !yield(it, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(Item{}, fmt.Errorf("synth: items: line %d: %w", line+1, err))
		}
	}
}

func parseItem(b []byte) (Item, error) {
	var it Item
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&it); err != nil {
		return it, &features.FieldError{Field: eventfile.FieldRecord, Err: err}
	}
	if err := privacy.ValidateID(it.ID); err != nil {
		return it, &features.FieldError{Field: "item", Err: err}
	}
	if err := privacy.ValidateID(it.Category); err != nil {
		return it, &features.FieldError{Field: "category", Err: err}
	}
	for _, s := range it.Stores {
		if err := privacy.ValidateID(s); err != nil {
			return it, &features.FieldError{Field: "stores", Err: err}
		}
	}
	return it, nil
}
