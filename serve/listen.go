package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// The listeners are opened before the server is set up (discret serve
// opens them first, to refuse an address in use before any work), so
// clients may connect while it is still starting. Such a connection waits
// startGrace for Serve, which then handles it: a client that connects as
// soon as discret serve says it is serving reaches the server, not the
// stand-in. After that, a stand-in answers rather than leaving the
// connection unanswered: on HTTP, /healthz 200 (the process is up),
// /readyz 503, anything else 503 UNAVAILABLE with Retry-After; on gRPC,
// the health service NOT_SERVING and any other method UNAVAILABLE. The
// stand-in speaks plain text: a TLS handshake cannot be answered before
// the server has its certificate, so such a connection waits up to
// startHold.

// startMessage is what the stand-in answers.
const startMessage = "the server is starting; retry in a moment"

// startGrace is how long a plain-text connection made before Serve waits
// for it before the stand-in answers: far below the usual timeouts of
// health probes (1 s).
const startGrace = 250 * time.Millisecond

// startHold bounds the wait of a TLS connection made before Serve: it is
// closed after it.
const startHold = 30 * time.Second

// startPeek bounds the wait for a connection's first byte, which tells a
// TLS handshake from plain text; a client that sends nothing for that long
// is treated as plain text.
const startPeek = 5 * time.Second

// Listen opens the two TCP listeners and answers on them, as a stand-in,
// until Serve takes them over. Closing a listener before Serve stops its
// stand-in.
func Listen(grpcAddr, httpAddr string) (grpcLis, httpLis net.Listener, err error) {
	gl, hl, err := listenTCP(grpcAddr, httpAddr)
	if err != nil {
		return nil, nil, err
	}
	return newHandoff(gl, grpcStandIn()), newHandoff(hl, httpStandIn()), nil
}

// listenTCP opens the two TCP listeners.
func listenTCP(grpcAddr, httpAddr string) (grpcLis, httpLis net.Listener, err error) {
	var lc net.ListenConfig
	gl, err := lc.Listen(context.Background(), "tcp", grpcAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("serve: gRPC listener: %w", err)
	}
	hl, err := lc.Listen(context.Background(), "tcp", httpAddr)
	if err != nil {
		gl.Close()
		return nil, nil, fmt.Errorf("serve: HTTP listener: %w", err)
	}
	return gl, hl, nil
}

// standIn is a server that answers while the real one is set up.
type standIn struct {
	serve func(net.Listener)
	// stop stops it: it stops accepting, ends its connections once their
	// requests are answered, and returns.
	stop func()
}

// httpStandIn answers HTTP requests while the server starts, and closes
// each connection after its answer so that the client's next request
// reaches the server.
func httpStandIn() standIn {
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			switch r.URL.Path {
			case pathHealthz:
				io.WriteString(w, "ok\n")
			case pathReadyz:
				http.Error(w, "not ready: starting", http.StatusServiceUnavailable)
			default:
				w.Header().Set("Retry-After", "1")
				writeJSONError(w, http.StatusServiceUnavailable, codes.Unavailable, startMessage)
			}
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	return standIn{
		serve: func(l net.Listener) { hs.Serve(l) },
		stop: func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			stopHTTP(ctx, hs)
		},
	}
}

// grpcStandIn answers gRPC calls while the server starts: the health
// service says NOT_SERVING, every other method UNAVAILABLE. Its stop sends
// GOAWAY, so that clients reconnect, to the server.
func grpcStandIn() standIn {
	gs := grpc.NewServer(grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
		return status.Error(codes.Unavailable, startMessage)
	}))
	hs := health.NewServer()
	for _, svc := range slices.Concat(readyServices, storeServices) {
		hs.SetServingStatus(svc, healthpb.HealthCheckResponse_NOT_SERVING)
	}
	healthpb.RegisterHealthServer(gs, hs)
	return standIn{
		serve: func(l net.Listener) { gs.Serve(l) },
		stop: func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			stopGRPC(ctx, gs)
		},
	}
}

// takeOver returns the listener the server accepts from: l itself, or, for
// a listener of Listen, its connections from now on.
func takeOver(l net.Listener) net.Listener {
	if h, ok := l.(*handoff); ok {
		return h.takeOver()
	}
	return l
}

// handoff is a TCP listener whose connections go to a stand-in until Serve
// takes it over (takeOver), and to the server from then on. One goroutine
// accepts; the servers accept from a connQueue.
type handoff struct {
	tcp   net.Listener
	stand standIn

	mu sync.Mutex // guards to and takenOver
	// to receives the accepted connections: the stand-in's queue, then
	// the server's.
	to *connQueue
	// takenOver is closed when Serve takes the listener over.
	takenOver chan struct{}
	// closed is closed by Close, before or after the takeover.
	closed    chan struct{}
	closeOnce sync.Once
	stopOnce  sync.Once // stops the stand-in
}

func newHandoff(tcp net.Listener, s standIn) *handoff {
	h := &handoff{tcp: tcp, stand: s, takenOver: make(chan struct{}), closed: make(chan struct{})}
	h.to = newConnQueue(h, false)
	go s.serve(h.to)
	go h.accept()
	return h
}

// stopStandIn stops the stand-in, once; it returns when it has stopped.
func (h *handoff) stopStandIn() { h.stopOnce.Do(h.stand.stop) }

// Accept, Close and Addr make a handoff a net.Listener, for the caller of
// Listen: only Close and Addr are meant for it; Serve accepts through
// takeOver.
func (h *handoff) Accept() (net.Conn, error) {
	return nil, errors.New("serve: Accept on a listener of Listen: pass it to Serve")
}
func (h *handoff) Addr() net.Addr { return h.tcp.Addr() }

// Close closes the TCP listener, the server's queue and, if Serve has not
// taken the listener over, the stand-in and its connections.
func (h *handoff) Close() error {
	var err error
	h.closeOnce.Do(func() {
		close(h.closed)
		err = h.tcp.Close()
		h.mu.Lock()
		q := h.to
		h.mu.Unlock()
		q.close()
		h.stopStandIn()
	})
	return err
}

// takeOver returns the listener of the server: from then on, it receives
// the connections, and the stand-in stops (in the background: its
// connections end once their answers are written). Closing the returned
// listener closes h.
func (h *handoff) takeOver() net.Listener {
	q := newConnQueue(h, true)
	h.mu.Lock()
	old := h.to
	if old.owner { // taken over already
		h.mu.Unlock()
		return old
	}
	h.to = q
	close(h.takenOver)
	h.mu.Unlock()
	old.close()
	go h.stopStandIn()
	select {
	case <-h.closed:
		q.close()
	default:
	}
	return q
}

// accept accepts connections until the TCP listener is closed, and passes
// each on: before the takeover after a look at its first byte, in its own
// goroutine, after the takeover at once. Any other failure (out of file
// descriptors) is retried after a pause, as net/http does.
func (h *handoff) accept() {
	var pause time.Duration
	for {
		c, err := h.tcp.Accept()
		if errors.Is(err, net.ErrClosed) {
			h.Close() // the servers' Accept fails too
			return
		}
		if err != nil {
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			time.Sleep(pause)
			continue
		}
		pause = 0
		select {
		case <-h.takenOver:
			h.deliver(c)
		default:
			go h.route(c)
		}
	}
}

// route passes c, accepted before the takeover, on: to the server if it
// takes over within startGrace, else to the stand-in; a TLS handshake,
// which the stand-in cannot answer, waits for the server up to startHold.
func (h *handoff) route(c net.Conn) {
	pc := &peekedConn{Conn: c}
	c.SetReadDeadline(time.Now().Add(startPeek))
	var b [1]byte
	n, err := c.Read(b[:])
	c.SetReadDeadline(time.Time{})
	pc.first = b[:n]
	var ne net.Error
	if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
		c.Close() // gone before it said anything
		return
	}
	isTLS := n == 1 && b[0] == tlsHandshake
	t := time.NewTimer(startGrace)
	if isTLS {
		t.Reset(startHold)
	}
	defer t.Stop()
	select {
	case <-h.takenOver:
	case <-h.closed:
		c.Close()
		return
	case <-t.C:
		if isTLS {
			c.Close()
			return
		}
	}
	h.deliver(pc)
}

// tlsHandshake is the first byte of a TLS connection (the record type of
// its ClientHello); HTTP/1 and HTTP/2 begin with a letter.
const tlsHandshake = 0x16

// deliver gives c to the current queue, or closes it once h is closed.
func (h *handoff) deliver(c net.Conn) {
	for {
		h.mu.Lock()
		q := h.to
		h.mu.Unlock()
		select {
		case q.conns <- c:
			return
		case <-q.done:
			// The stand-in's queue, closed by the takeover: try the
			// server's. The server's queue, closed: c is not served.
			h.mu.Lock()
			same := h.to == q
			h.mu.Unlock()
			if same {
				c.Close()
				return
			}
		}
	}
}

// connQueue is the net.Listener a server accepts from: the connections
// its handoff passes on.
type connQueue struct {
	h     *handoff
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	// owner is set on the server's queue: closing it closes the handoff.
	owner bool
}

func newConnQueue(h *handoff, owner bool) *connQueue {
	return &connQueue{h: h, conns: make(chan net.Conn), done: make(chan struct{}), owner: owner}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.conns:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.close()
	if q.owner {
		return q.h.Close()
	}
	return nil
}

func (q *connQueue) close()         { q.once.Do(func() { close(q.done) }) }
func (q *connQueue) Addr() net.Addr { return q.h.Addr() }

// peekedConn is a connection whose first bytes were read to route it;
// they are read again first.
type peekedConn struct {
	net.Conn
	first []byte
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if len(c.first) > 0 {
		n := copy(p, c.first)
		c.first = c.first[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
