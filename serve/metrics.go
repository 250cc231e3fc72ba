package serve

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// latencyBuckets span 50 µs to 10 s: the hot path is sub-millisecond,
// training takes seconds.
var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// metrics are the server's Prometheus metrics. Label values are bounded:
// gRPC methods are the registered ones (unknown methods are refused before
// the interceptor), routes are the API's path patterns or "unmatched".
type metrics struct {
	rpc  *prometheus.HistogramVec
	http *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		rpc: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "discret_rpc_duration_seconds",
			Help:    "Latency of API calls, gRPC and REST alike, by gRPC method and status code.",
			Buckets: latencyBuckets,
		}, []string{"method", "code"}),
		http: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "discret_http_request_duration_seconds",
			Help:    "Latency of HTTP requests, by route pattern and HTTP status.",
			Buckets: latencyBuckets,
		}, []string{"route", "status"}),
	}
	for _, c := range []prometheus.Collector{m.rpc, m.http} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("serve: register metrics: %w", err)
		}
	}
	return m, nil
}
