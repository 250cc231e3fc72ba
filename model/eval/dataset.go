package eval

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
)

// Dataset is a set of distinct (user, item) interaction pairs with the
// public research identifiers of a benchmark, indexed in the order EVAL.md
// prescribes: users and items are sorted numerically when every identifier
// of their kind parses as an integer, otherwise byte-wise.
type Dataset struct {
	users, items []string
	rows         [][]int32 // per user, distinct item indices, increasing
	pairs        int
}

// ErrNoPairs is returned by NewDataset when there is not one pair.
var ErrNoPairs = errors.New("eval: no (user, item) pairs")

// NewDataset collects the pairs of seq. Duplicate pairs collapse; ratings,
// times and event kinds are not part of the protocol. An empty user or item
// identifier is an error, and so is a seq without pairs (ErrNoPairs).
func NewDataset(seq iter.Seq2[string, string]) (*Dataset, error) {
	userIdx := map[string]int32{}
	itemIdx := map[string]int32{}
	var users, items []string
	var raw [][]int32
	n := 0
	for u, it := range seq {
		n++
		if u == "" || it == "" {
			return nil, fmt.Errorf("eval: pair %d: empty identifier", n)
		}
		ui, ok := userIdx[u]
		if !ok {
			ui = int32(len(users))
			userIdx[u] = ui
			users = append(users, u)
			raw = append(raw, nil)
		}
		ii, ok := itemIdx[it]
		if !ok {
			ii = int32(len(items))
			itemIdx[it] = ii
			items = append(items, it)
		}
		raw[ui] = append(raw[ui], ii)
	}
	if len(users) == 0 {
		return nil, ErrNoPairs
	}
	uOrder := idOrder(users)
	iOrder := idOrder(items)
	iRank := make([]int32, len(items)) // old item index → new
	for r, old := range iOrder {
		iRank[old] = int32(r)
	}
	d := &Dataset{users: make([]string, len(users)), items: make([]string, len(items)), rows: make([][]int32, len(users))}
	for r, old := range iOrder {
		d.items[r] = items[old]
	}
	for r, old := range uOrder {
		d.users[r] = users[old]
		row := raw[old]
		for q, j := range row {
			row[q] = iRank[j]
		}
		slices.Sort(row)
		row = slices.Compact(row)
		d.rows[r] = slices.Clip(row)
		d.pairs += len(row)
	}
	return d, nil
}

// idOrder returns the indices of ids in EVAL.md order: numeric when every id
// is an integer, otherwise byte-wise lexicographic.
func idOrder(ids []string) []int {
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	nums := make([]int64, len(ids))
	numeric := true
	for i, s := range ids {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			numeric = false
			break
		}
		nums[i] = v
	}
	if numeric {
		slices.SortFunc(order, func(a, b int) int { return cmp.Compare(nums[a], nums[b]) })
	} else {
		slices.SortFunc(order, func(a, b int) int { return cmp.Compare(ids[a], ids[b]) })
	}
	return order
}

// Users returns the number of users.
func (d *Dataset) Users() int { return len(d.users) }

// Items returns the number of distinct items.
func (d *Dataset) Items() int { return len(d.items) }

// Pairs returns the number of distinct (user, item) pairs.
func (d *Dataset) Pairs() int { return d.pairs }

// User returns the identifier of user u (0 ≤ u < Users, in EVAL.md order).
func (d *Dataset) User(u int) string { return d.users[u] }

// Item returns the identifier of item j (0 ≤ j < Items, in EVAL.md order).
func (d *Dataset) Item(j int) string { return d.items[j] }

// Row returns user u's items in increasing index order. The slice must not
// be modified.
func (d *Dataset) Row(u int) []int32 { return d.rows[u] }
