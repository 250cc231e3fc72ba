// Package rpc implements the gRPC services of the Discret API
// (serve/api/discret/v1) on top of the domain packages. Each handler only
// translates: it validates the request and converts it to domain types
// (errors name the field and the accepted range), calls the engine, and
// converts the answer back. Domain errors become *apierr.Error values here;
// the server's interceptor maps their kinds to gRPC codes.
//
// The engines are consumer-side interfaces: Store and EventWriter for the
// data plane (features/store, features/ingest), Recommender, StoreEntries,
// Catalogue and Models for the recommendation, coupon and model engines.
// Methods whose engine is not configured answer Unimplemented.
//
// Raw customer ids are pseudonymized as soon as they are validated and are
// never echoed in errors or responses.
package rpc

import (
	"context"
	"errors"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/pseudonym"
	"github.com/discret-io/discret/privacy/retention"
	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/coupons"
	"github.com/discret-io/discret/serve/recommend"
)

// Store is what the consent and data-subject RPCs need from storage.
// *store.DB implements it.
type Store interface {
	Consent(ctx context.Context, p privacy.PseudoID) (consent.Record, error)
	UpdateConsent(ctx context.Context, p privacy.PseudoID, changes []consent.Change, d consent.Defaults) (store.ConsentResult, error)
	Export(ctx context.Context, p privacy.PseudoID) (store.CustomerData, error)
	// Forget and the releases an erasure may retire
	// (release.ForgetCustomer).
	release.Eraser
	// The audit trail: the export's entry, and the listings.
	RecordAudit(ctx context.Context, e store.AuditEntry) error
	Audit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, bool, error)
}

var _ Store = (*store.DB)(nil)

// EventWriter ingests a batch of valid events as one commit unit; its
// Counts.Stored counts the events new or already held, which the store
// does not tell apart. *ingest.Ingester implements it.
type EventWriter interface {
	Write(ctx context.Context, events []features.RawEvent) (ingest.Counts, error)
	// BatchSize is the most events Write accepts.
	BatchSize() int
}

var _ EventWriter = (*ingest.Ingester)(nil)

// CustomerCache is told when what is stored about a customer changed: after
// events were written, consent changed or the customer was forgotten, so
// that cached per-customer state (folded-in vectors, purchase filters) is
// dropped. Invalidate is called after the change is durable; the
// implementation must make sure that a cache fill that read the old state
// before the call cannot survive it.
type CustomerCache interface {
	Invalidate(p privacy.PseudoID)
}

// ReleaseFollower is told which releases an erasure deleted
// (release.ForgetCustomer retires the non-private ones trained on the
// customer), so that it stops serving them at once.
type ReleaseFollower interface {
	Retired(ctx context.Context, versions []string) error
}

// Recommender answers the recommendation RPCs.
type Recommender interface {
	Recommend(ctx context.Context, r recommend.Request) (recommend.Response, error)
	Similar(ctx context.Context, r recommend.SimilarRequest) (recommend.List, error)
	Popular(ctx context.Context, r recommend.PopularRequest) (recommend.List, error)
}

// StoreEntries answers EnterStore.
type StoreEntries interface {
	Enter(ctx context.Context, e coupons.Entry) (coupons.Result, error)
}

// Catalogue stores catalogue items and coupons. The values passed are
// valid (Validate returned nil).
type Catalogue interface {
	UpsertItem(ctx context.Context, it features.Item) error
	UpsertCoupon(ctx context.Context, c features.Coupon) error
}

// Config configures New. Pseudonyms, Store and Events are required; the
// engines are optional.
type Config struct {
	// Pseudonyms turns raw customer ids into pseudonyms.
	Pseudonyms *pseudonym.Keyed
	// Store serves consent, export and erasure.
	Store Store
	// Events ingests WriteEvents batches (with the same consent and
	// retention rules as `discret import`).
	Events EventWriter
	// ConsentDefaults is the decision for customers who never expressed a
	// choice; it must be the one Events applies.
	ConsentDefaults consent.Defaults
	// Retention is the retention policy in force, stated in exports
	// (privacy/notice); it must be the one Events applies.
	Retention retention.Policy
	// AuditRetention is how long the audit trail keeps its entries,
	// stated in exports; it must be the store's. Zero means
	// retention.DefaultAudit.
	AuditRetention retention.Period
	// Cache, if set, is invalidated after every change to a customer.
	Cache CustomerCache
	// Releases, if set, is told of the releases an erasure deleted.
	Releases ReleaseFollower
	// Recommender serves Recommend, SimilarItems and PopularItems.
	Recommender Recommender
	// Entries serves EnterStore.
	Entries StoreEntries
	// Catalogue serves UpsertItem and UpsertCoupon.
	Catalogue Catalogue
	// Models serves GetCurrentModel and TrainModel.
	Models Models
	// Keys serves CreateApiKey, ListApiKeys and RevokeApiKey.
	Keys KeyManager
	// Tokens serves CreateCustomerToken; it must be the Keys that the
	// server authorizes requests with.
	Tokens TokenMinter
	// Now is the clock (consent changes without a time); nil means time.Now.
	Now func() time.Time
	// Sleep waits d, or until ctx is done (then it returns ctx.Err()): a
	// consent change without a time, sent in the second of the customer's
	// erasure, waits for the next second (SetConsent,
	// consent.Record.DateAfterLatest). Nil means a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Validate reports every problem with c.
func (c *Config) Validate() error {
	var errs []error
	if c.Pseudonyms == nil {
		errs = append(errs, errors.New("rpc: Config.Pseudonyms is required"))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("rpc: Config.Store is required"))
	}
	if c.Events == nil {
		errs = append(errs, errors.New("rpc: Config.Events is required"))
	} else if n := c.Events.BatchSize(); n < 1 {
		errs = append(errs, errors.New("rpc: Config.Events.BatchSize must be positive"))
	}
	return errors.Join(errs...)
}

// API implements every service of the Discret API. It is safe for
// concurrent use.
type API struct {
	cfg Config
}

// New returns the API over cfg's engines.
func New(cfg Config) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &API{cfg: cfg}, nil
}

// Register registers every service with s.
func (a *API) Register(s grpc.ServiceRegistrar) {
	discretv1.RegisterRecommendationServiceServer(s, recommendationServer{a: a})
	discretv1.RegisterStoreServiceServer(s, storeServer{a: a})
	discretv1.RegisterEventServiceServer(s, eventServer{a: a})
	discretv1.RegisterConsentServiceServer(s, consentServer{a: a})
	discretv1.RegisterAdminServiceServer(s, adminServer{a: a})
}

// RegisterGateway registers the REST handlers of every service with mux;
// they call the gRPC server through conn, so that its interceptors apply to
// REST requests too.
func (a *API) RegisterGateway(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
	for _, register := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		discretv1.RegisterRecommendationServiceHandler,
		discretv1.RegisterStoreServiceHandler,
		discretv1.RegisterEventServiceHandler,
		discretv1.RegisterConsentServiceHandler,
		discretv1.RegisterAdminServiceHandler,
	} {
		if err := register(ctx, mux, conn); err != nil {
			return err
		}
	}
	return nil
}

// invalidate tells the cache that customer p changed.
func (a *API) invalidate(p privacy.PseudoID) {
	if a.cfg.Cache != nil {
		a.cfg.Cache.Invalidate(p)
	}
}

// The servers, one per service: the generated interfaces need an embedded
// Unimplemented type each, and their method sets must not collide.
type (
	recommendationServer struct {
		discretv1.UnimplementedRecommendationServiceServer
		a *API
	}
	storeServer struct {
		discretv1.UnimplementedStoreServiceServer
		a *API
	}
	eventServer struct {
		discretv1.UnimplementedEventServiceServer
		a *API
	}
	consentServer struct {
		discretv1.UnimplementedConsentServiceServer
		a *API
	}
	adminServer struct {
		discretv1.UnimplementedAdminServiceServer
		a *API
	}
)
