package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/model/train"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
)

// Models serves the model RPCs.
type Models interface {
	// Current returns the card of the release being served, or an error
	// wrapping recommend.ErrNoModel if there is none.
	Current(ctx context.Context) (release.Card, error)
	// Train trains a release, makes it current and serves it, and returns
	// its card. Of cfg, the RPC sets only Epsilon (math.Inf(1) for a
	// non-private model), Delta, ALS.Factors and ALS.Iterations, zero
	// meaning the default; the implementation fills in the rest (consent
	// defaults, retention, catalogue, ...). Its errors may be *apierr.Error
	// values to choose their kind; train.ErrNoData is FailedPrecondition.
	Train(ctx context.Context, cfg train.Config) (release.Card, error)
}

// Bounds of TrainModelRequest, those model/train and model/als accept;
// MaxDelta is the command line's too.
const (
	MaxEpsilon    = train.MaxEpsilon
	MinDelta      = train.MinDelta
	MaxDelta      = train.MaxDelta
	MaxFactors    = 1024
	MaxIterations = 1000
)

var errNoModels = apierr.New(apierr.Unimplemented, "this server runs without a model engine")

// GetCurrentModel returns the card of the release being served.
func (s adminServer) GetCurrentModel(ctx context.Context, _ *discretv1.GetCurrentModelRequest) (*discretv1.ModelCard, error) {
	if s.a.cfg.Models == nil {
		return nil, errNoModels
	}
	c, err := s.a.cfg.Models.Current(ctx)
	if err != nil {
		return nil, modelError(err)
	}
	return modelCard(c), nil
}

// TrainModel trains a new release and serves it.
func (s adminServer) TrainModel(ctx context.Context, req *discretv1.TrainModelRequest) (*discretv1.ModelCard, error) {
	cfg, err := decodeTrain(req)
	if err != nil {
		return nil, err
	}
	if s.a.cfg.Models == nil {
		return nil, errNoModels
	}
	// The store audits the release made current, naming the request's key.
	c, err := s.a.cfg.Models.Train(ctx, cfg)
	if err != nil {
		return nil, modelError(err)
	}
	return modelCard(c), nil
}

func modelError(err error) error {
	if errors.Is(err, train.ErrNoData) {
		return &apierr.Error{Kind: apierr.FailedPrecondition, Msg: "no usable data: no consenting customer has events in the data window", Err: err}
	}
	return apiError(err)
}

// decodeTrain converts and validates a TrainModelRequest.
func decodeTrain(req *discretv1.TrainModelRequest) (train.Config, error) {
	var cfg train.Config
	switch eps := req.GetEpsilon(); {
	case req.GetNonPrivate():
		cfg.Epsilon = math.Inf(1)
	case eps == 0:
	case math.IsInf(eps, 1):
		return cfg, apierr.Invalidf("epsilon", "infinity is not a budget: set non_private to true to train without differential privacy")
	case !(eps >= train.MinEpsilon && eps <= MaxEpsilon):
		return cfg, apierr.Invalidf("epsilon", "must be in [%g, %d] (0 means the server's default), got %v", train.MinEpsilon, MaxEpsilon, eps)
	default:
		cfg.Epsilon = eps
	}
	if d := req.GetDelta(); d != 0 && !req.GetNonPrivate() {
		if !(d >= MinDelta && d <= MaxDelta) {
			return cfg, apierr.Invalidf("delta", "must be in [%g, %g] (0 means the server's default), got %v", MinDelta, MaxDelta, d)
		}
		cfg.Delta = d
	}
	if n := req.GetIterations(); n < 0 || n > MaxIterations {
		return cfg, apierr.Invalidf("iterations", "must be 1-%d (0 means the default), got %d", MaxIterations, n)
	}
	if n := req.GetFactors(); n < 0 || n > MaxFactors {
		return cfg, apierr.Invalidf("factors", "must be 1-%d (0 means the default), got %d", MaxFactors, n)
	}
	cfg.ALS.Iterations, cfg.ALS.Factors = int(req.GetIterations()), int(req.GetFactors())
	return cfg, nil
}

// modelCard converts a model card.
func modelCard(c release.Card) *discretv1.ModelCard {
	mc := &discretv1.ModelCard{
		Version:           c.Version,
		Created:           optTimestamp(c.Created),
		Private:           c.Private,
		Epsilon:           c.Epsilon(),
		Items:             int32(c.Items),
		Factors:           int32(c.Hyper.Factors),
		TrainingCustomers: trainingCustomers(c.Customers),
		DataFrom:          optTimestamp(c.Window.From),
		DataTo:            optTimestamp(c.Window.To),
		Parameters:        parameters(c.Hyper),
		Rng:               c.RNG,
		Charges:           []*discretv1.PrivacyCharge{},
		Evaluation:        map[string]float64{},
	}
	if p := c.Privacy; p != nil {
		mc.Delta, mc.Rho = p.Delta, p.Rho
		for _, comp := range p.Components {
			mc.Charges = append(mc.Charges, &discretv1.PrivacyCharge{Component: comp.Name, Rho: comp.Rho, NoiseMultiplier: comp.Multiplier})
		}
	}
	if e := c.Evaluation; e != nil {
		for k, v := range e.Metrics {
			mc.Evaluation[k] = v
		}
	}
	return mc
}

// trainingCustomers describes the released number of training customers,
// which is never exact: "12000 (noisy, σ = 31.6)" or "12000 (rounded)".
func trainingCustomers(c release.Customers) string {
	s := strconv.FormatInt(c.Value, 10) + " (" + c.Method
	if c.Sigma > 0 {
		s += fmt.Sprintf(", σ = %.3g", c.Sigma)
	}
	return s + ")"
}

// parameters flattens the hyper-parameters to strings, by their JSON
// names; maps (the event weights) stay JSON.
func parameters(h release.Hyper) map[string]string {
	out := map[string]string{}
	raw, err := json.Marshal(h)
	if err != nil {
		return out
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return out
	}
	for k, v := range fields {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
			continue
		}
		var buf bytes.Buffer
		if json.Compact(&buf, v) == nil {
			out[k] = buf.String()
		}
	}
	return out
}
