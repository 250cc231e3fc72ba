package synth

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/privacy"
)

// Behaviour parameters. They are constants rather than Config fields: the
// point of the generator is a plausible dataset, not a simulator to tune.
const (
	activitySigma = 1.2  // σ of the log-normal activity weight of a customer
	emailShare    = 0.2  // customers identified by an e-mail address rather than a loyalty number
	lateJoiners   = 0.4  // customers whose first activity falls later in the period
	storeCustomer = 0.7  // customers who ever shop in store
	strayShare    = 0.3  // picks from another favourite group than the session's
	siblingShare  = 0.15 // picks from a sibling style of the same category
	revisitShare  = 0.15 // online views of an item bought before
	viewStop      = 0.45 // per view, the probability that it is the session's last
	cartRate      = 0.25 // viewed items added to the cart
	cartRateKnown = 0.5  // viewed items bought before added to the cart
	buyRate       = 0.6  // carted items bought
	rebuyShare    = 0.25 // store purchases repeating an earlier purchase
	basketStop    = 0.5  // per store purchase, the probability that it is the last
	historyLen    = 16   // recent purchases remembered for repeats
)

var (
	firstNames = []string{"anna", "ben", "chloe", "david", "elena", "farid", "grace", "hugo", "ines", "jonas", "kim", "lea", "marco", "nina", "omar", "paula", "quentin", "rosa", "sven", "tara", "ugo", "vera", "wen", "yusuf", "zoe"}
	lastNames  = []string{"andersen", "bernard", "costa", "dubois", "eriksen", "fischer", "garcia", "haddad", "ivanova", "jensen", "kowalski", "lambert", "moreau", "nowak", "oliveira", "petit", "rossi", "schmidt", "tanaka", "novak", "weber", "yilmaz"}
	domains    = []string{"example.com", "example.org", "example.net"}
)

// generator writes the events and consent changes of one customer at a
// time.
type generator struct {
	cfg     Config
	cat     *catalogue
	events  *eventfile.Encoder
	consent *eventfile.ConsentEncoder // nil: consent not written
	sum     *Summary

	src *rand.PCG // reseeded per customer
	rng *rand.Rand

	// Allocation of cfg.Events: each customer gets base events plus a
	// share of extra proportional to its activity weight, by cumulative
	// rounding so that the total is exact.
	base, extra       int
	totalW, cumW      float64
	allocated         int
	wsrc              *rand.PCG
	wrng              *rand.Rand
	history           [historyLen]int32 // recent purchases of the current customer
	nHistory, histPos int
	row               eventfile.Row
	left              int           // events left in the current customer's budget
	step              time.Duration // mean time between the customer's events
	limit             time.Time     // no event of the customer after it
}

func newGenerator(cfg Config, cat *catalogue, events *eventfile.Encoder, consent *eventfile.ConsentEncoder, sum *Summary) *generator {
	g := &generator{cfg: cfg, cat: cat, events: events, consent: consent, sum: sum}
	g.src = rand.NewPCG(0, 0)
	g.rng = rand.New(g.src)
	g.wsrc = rand.NewPCG(0, 0)
	g.wrng = rand.New(g.wsrc)
	g.extra = cfg.Events
	if cfg.Events >= cfg.Customers {
		g.base, g.extra = 1, cfg.Events-cfg.Customers
	}
	for i := range cfg.Customers {
		g.totalW += g.activity(i)
	}
	return g
}

// mix is the SplitMix64 finalizer (Steele, Lea and Flood, "Fast splittable
// pseudorandom number generators", OOPSLA 2014), used to turn customer
// numbers into unrelated PCG stream seeds.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// activity returns the activity weight of customer i, log-normal.
func (g *generator) activity(i int) float64 {
	g.wsrc.Seed(g.cfg.Seed^0xac71_5eed, mix(uint64(i)))
	return math.Exp(activitySigma * g.wrng.NormFloat64())
}

// budget returns the number of events of customer i; customers must be
// visited in order.
func (g *generator) budget(i int) int {
	g.cumW += g.activity(i)
	cum := int(float64(g.extra) * (g.cumW / g.totalW))
	if i == g.cfg.Customers-1 {
		cum = g.extra
	}
	cum = min(cum, g.extra)
	n := g.base + cum - g.allocated
	g.allocated = cum
	return n
}

// taste is a customer's latent preferences.
type taste struct {
	groups  [3]int32
	cum     [3]float64 // cumulative affinity
	k       int        // favourite groups
	explore float64    // share of picks from global popularity
}

func (t *taste) group(rng *rand.Rand) int32 {
	u := rng.Float64() * t.cum[t.k-1]
	for j := range t.k - 1 {
		if u < t.cum[j] {
			return t.groups[j]
		}
	}
	return t.groups[t.k-1]
}

// customer writes the consent changes and events of customer i.
func (g *generator) customer(i int) error {
	n := g.budget(i)
	g.src.Seed(g.cfg.Seed, mix(uint64(i)))
	rng := g.rng
	g.row.Customer = g.customerID(i, rng)
	g.nHistory, g.histPos = 0, 0

	start, end := g.cfg.Start, g.cfg.End
	period := end.Sub(start)
	joined := start
	if rng.Float64() < lateJoiners {
		joined = start.Add(time.Duration(rng.Float64() * 0.5 * float64(period)))
	}

	// Consent, drawn whether or not it is written so that events do not
	// depend on it.
	mixc := g.cfg.Consent
	grant := rng.Float64() < mixc.Personalization
	inStore := rng.Float64() < mixc.InStore
	withdraw := rng.Float64() < mixc.Withdraw
	decline := rng.Float64() < 0.5
	granted := joined.Add(-time.Duration(rng.Float64() * float64(min(48*time.Hour, joined.Sub(start)))))
	inStoreAt := granted.Add(time.Duration(rng.Float64() * float64(time.Hour)))
	withdrawAt := joined.Add(time.Duration((0.3 + 0.6*rng.Float64()) * float64(end.Sub(joined))))
	switch {
	case grant:
		g.sum.Personalization++
		if err := g.writeConsent(privacy.Personalization, true, granted); err != nil {
			return err
		}
		if inStore {
			g.sum.InStore++
			if err := g.writeConsent(privacy.InStore, true, earliest(inStoreAt, end)); err != nil {
				return err
			}
		}
		if withdraw {
			g.sum.Withdrawn++
			end = withdrawAt
			if err := g.writeConsent(privacy.Personalization, false, withdrawAt); err != nil {
				return err
			}
		}
	case decline:
		if err := g.writeConsent(privacy.Personalization, false, joined); err != nil {
			return err
		}
	}

	// Tastes and habits.
	var t taste
	t.k = 1 + rng.IntN(3)
	var total float64
	for j := range t.k {
		t.groups[j] = int32(g.cat.groupPick.sample(rng))
		total += rng.ExpFloat64()
		t.cum[j] = total
	}
	t.explore = 0.1 + 0.2*rng.Float64()
	storeShare := 0.0
	if rng.Float64() < storeCustomer {
		storeShare = 0.1 + 0.6*rng.Float64()
	}
	home, other := rng.IntN(g.cfg.Stores), rng.IntN(g.cfg.Stores)

	if n == 0 {
		return nil
	}
	g.left = n
	span := max(0, end.Sub(joined)-time.Second) // events stay before end
	g.step = max(time.Millisecond, span/time.Duration(n))
	g.limit = joined.Add(span)
	last := joined
	for g.left > 0 {
		done := n - g.left
		at := joined.Add(time.Duration((float64(done) + rng.Float64()) / float64(n) * float64(span)))
		at = latest(at, last.Add(min(time.Second, g.step)))
		var err error
		if rng.Float64() < storeShare {
			store := home
			if rng.Float64() < 0.15 {
				store = other
			}
			last, err = g.storeSession(rng, &t, store, at)
		} else {
			last, err = g.onlineSession(rng, &t, at)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// customerID returns a raw identifier for customer i: a loyalty number
// ("LOY-10012345"), unique per customer and seed-dependent, or an e-mail
// address at a reserved example domain (RFC 2606), unique by its number.
func (g *generator) customerID(i int, rng *rand.Rand) string {
	if rng.Float64() < emailShare {
		return firstNames[rng.IntN(len(firstNames))] + "." + lastNames[rng.IntN(len(lastNames))] + "." +
			strconv.Itoa(i+1) + "@" + domains[rng.IntN(len(domains))]
	}
	// i ↦ 10⁷ + (7919·i + seed) mod 9·10⁷ is one-to-one for
	// i < 9·10⁷ (7919 is prime to 9·10⁷, and MaxCustomers is smaller): eight
	// digits, no leading zero.
	const m = 90_000_000
	n := 10_000_000 + (uint64(i)*7919+g.cfg.Seed%m)%m
	return "LOY-" + strconv.FormatUint(n, 10)
}

// pick draws an item from the customer's tastes, with the session's group as
// the main intent.
func (g *generator) pick(rng *rand.Rand, t *taste, intent int32) int32 {
	if rng.Float64() < t.explore {
		return int32(g.cat.global.sample(rng))
	}
	grp := intent
	if rng.Float64() < strayShare {
		grp = t.group(rng)
	}
	if rng.Float64() < siblingShare {
		sib := grp - grp%stylesPerCategory + int32(rng.IntN(stylesPerCategory))
		if len(g.cat.groups[sib].items) > 0 {
			grp = sib
		}
	}
	gr := &g.cat.groups[grp]
	return gr.items[gr.pick.sample(rng)]
}

// next returns the time of the event after one at t: seconds to minutes
// later, less for customers with very many events.
func (g *generator) next(rng *rand.Rand, t time.Time) time.Time {
	gap := time.Duration(5+rng.IntN(115)) * time.Second
	return t.Add(min(gap, g.step))
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func quantity(rng *rand.Rand) uint32 {
	if rng.Float64() < 0.8 {
		return 1
	}
	return uint32(2 + rng.IntN(3))
}

// onlineSession writes a funnel: views, carts for some viewed items,
// purchases for some carted ones. It returns the time of its last event.
func (g *generator) onlineSession(rng *rand.Rand, t *taste, at time.Time) (time.Time, error) {
	intent := t.group(rng)
	var carted [8]int32
	var qty [8]uint32
	nCart := 0
	for v := 0; v < len(carted) && g.left > 0; v++ {
		var it int32
		known := g.nHistory > 0 && rng.Float64() < revisitShare
		if known {
			it = g.history[rng.IntN(g.nHistory)]
		} else {
			it = g.pick(rng, t, intent)
		}
		if v > 0 {
			at = g.next(rng, at)
		}
		if err := g.emit(privacy.View, it, -1, at, 1); err != nil {
			return at, err
		}
		rate := cartRate
		if known {
			rate = cartRateKnown
		}
		if rng.Float64() < rate {
			carted[nCart], qty[nCart] = it, quantity(rng)
			nCart++
		}
		if rng.Float64() < viewStop {
			break
		}
	}
	for j := 0; j < nCart && g.left > 0; j++ {
		at = g.next(rng, at)
		if err := g.emit(privacy.AddToCart, carted[j], -1, at, qty[j]); err != nil {
			return at, err
		}
	}
	for j := 0; j < nCart && g.left > 0; j++ {
		if rng.Float64() >= buyRate {
			continue
		}
		at = g.next(rng, at)
		if err := g.emit(privacy.Purchase, carted[j], -1, at, qty[j]); err != nil {
			return at, err
		}
		g.remember(carted[j])
	}
	return at, nil
}

// storeSession writes a store visit and the purchases made there.
func (g *generator) storeSession(rng *rand.Rand, t *taste, store int, at time.Time) (time.Time, error) {
	if err := g.emit(privacy.StoreVisit, -1, store, at, 1); err != nil {
		return at, err
	}
	intent := t.group(rng)
	for b := 0; b < 6 && g.left > 0; b++ {
		it := int32(-1)
		if g.nHistory > 0 && rng.Float64() < rebuyShare {
			if h := g.history[rng.IntN(g.nHistory)]; g.cat.stocks(store, int(h)) {
				it = h
			}
		}
		for try := 0; it < 0 && try < 8; try++ {
			if p := g.pick(rng, t, intent); g.cat.stocks(store, int(p)) {
				it = p
			}
		}
		if it < 0 {
			home := g.cat.storeHome[store]
			it = home[rng.IntN(len(home))]
		}
		at = g.next(rng, at)
		if err := g.emit(privacy.Purchase, it, store, at, quantity(rng)); err != nil {
			return at, err
		}
		g.remember(it)
		if rng.Float64() < basketStop {
			break
		}
	}
	return at, nil
}

func (g *generator) remember(it int32) {
	g.history[g.histPos] = it
	g.histPos = (g.histPos + 1) % historyLen
	g.nHistory = min(g.nHistory+1, historyLen)
}

// emit writes one event of the current customer; item and store are -1 when
// absent.
func (g *generator) emit(kind privacy.EventKind, item int32, store int, at time.Time, q uint32) error {
	g.row.Kind, g.row.Time, g.row.Quantity = kind, earliest(at, g.limit), q
	g.row.Item, g.row.Store = "", ""
	if item >= 0 {
		g.row.Item = g.cat.itemIDs[item]
	}
	if store >= 0 {
		g.row.Store = g.cat.storeIDs[store]
	}
	if err := g.events.Encode(g.row); err != nil {
		return err
	}
	g.left--
	g.sum.Events++
	switch kind {
	case privacy.View:
		g.sum.Views++
	case privacy.AddToCart:
		g.sum.Carts++
	case privacy.Purchase:
		g.sum.Purchases++
	case privacy.StoreVisit:
		g.sum.Visits++
	}
	return nil
}

func (g *generator) writeConsent(p privacy.Purpose, granted bool, at time.Time) error {
	g.sum.ConsentRecords++
	if g.consent == nil {
		return nil
	}
	return g.consent.Encode(eventfile.ConsentRow{Customer: g.row.Customer, Purpose: p, Granted: granted, Time: at, Source: "synthetic"})
}
