package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/auth"
	"github.com/telemetryd/telemetryd/fleet"
)

// Receiving snapshots (telemetryd serve --receive).
const (
	// ReceiveRoute is where senders POST their snapshots; the default
	// --telemetry-endpoint ends in the same path.
	ReceiveRoute = "POST /v1/snapshots"
	// MaxSnapshotBody bounds a received snapshot; larger ones get 413.
	MaxSnapshotBody = 64 << 10
	// ReceiveRate is how many snapshots one source address may send a
	// minute; more get 429 with Retry-After.
	ReceiveRate = 60
)

// Receiver accepts other deployments' snapshots on POST /v1/snapshots.
type Receiver struct {
	// Fleet checks and stores what arrives. Required.
	Fleet *fleet.Service
	// Key, when set, is the bearer key senders must present.
	Key string
	// Now reads the clock of the rate limit; nil means time.Now.
	Now func() time.Time
}

// The outcomes telemetryd_receiver_snapshots_total counts.
const (
	outcomeCreated     = "created"
	outcomeDuplicate   = "duplicate"
	outcomeConflict    = "conflict"
	outcomeInvalid     = "invalid"
	outcomeTooLarge    = "too_large"
	outcomeMediaType   = "unsupported_media_type"
	outcomeUnauthorize = "unauthorized"
	outcomeRateLimited = "rate_limited"
	outcomeUnavailable = "unavailable"
	outcomeError       = "error"
)

var outcomes = []string{outcomeCreated, outcomeDuplicate, outcomeConflict, outcomeInvalid, outcomeTooLarge,
	outcomeMediaType, outcomeUnauthorize, outcomeRateLimited, outcomeUnavailable, outcomeError}

// receiving is the receiver as the server runs it.
type receiving struct {
	*Receiver
	key      [sha256.Size]byte
	limit    *rateLimit
	received *prometheus.CounterVec
	duration prometheus.Histogram
	// fail answers with an error's code, as every route does.
	fail func(http.ResponseWriter, *http.Request, error)
}

func newReceiving(r *Receiver, reg prometheus.Registerer, fail func(http.ResponseWriter, *http.Request, error)) (*receiving, error) {
	rc := &receiving{
		Receiver: r,
		fail:     fail,
		key:      sha256.Sum256([]byte(r.Key)),
		limit:    newRateLimit(ReceiveRate),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetryd_receiver_snapshots_total",
			Help: "Snapshots POSTed to the receiver, by outcome.",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "telemetryd_receiver_ingest_duration_seconds",
			Help:    "Time to check and store a received snapshot, from its body read to the answer.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
	}
	for _, o := range outcomes {
		rc.received.WithLabelValues(o)
	}
	for _, c := range []prometheus.Collector{rc.received, rc.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return rc, nil
}

func (rc *receiving) now() time.Time {
	if rc.Now != nil {
		return rc.Now()
	}
	return time.Now()
}

// authorized reports whether the request carries the receive key, when
// one is set: as a bearer token, or as the password of basic
// authentication, which is what telemetryd's own sender sends for an
// endpoint such as https://fleet:<key>@receiver/v1/snapshots. Both sides
// are hashed first, so the comparison takes the same time whatever the
// length of what was sent.
func (rc *receiving) authorized(r *http.Request) bool {
	if rc.Key == "" {
		return true
	}
	key, ok := "", false
	if _, password, basic := r.BasicAuth(); basic {
		key, ok = password, true
	} else if scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " "); found && strings.EqualFold(scheme, "Bearer") {
		key, ok = strings.TrimSpace(token), true
	}
	sum := sha256.Sum256([]byte(key))
	return subtle.ConstantTimeCompare(sum[:], rc.key[:]) == 1 && ok
}

// ServeHTTP checks, in order: the rate limit (429) of the request's
// source (see TrustedProxies.SourceOf), the key (401), the
// content type (415), the size (413), that the body is JSON (400), and
// the record (422, naming the member); then stores it: 201 when new,
// 200 when it was received before, 409 on a conflict.
func (rc *receiving) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reject := func(outcome string, status int, message string) {
		rc.received.WithLabelValues(outcome).Inc()
		writeError(w, status, message)
	}
	if ok, wait := rc.limit.allow(auth.Source(r.Context()), rc.now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(wait)))
		reject(outcomeRateLimited, http.StatusTooManyRequests, "too many snapshots from this address: at most "+strconv.Itoa(ReceiveRate)+" a minute")
		return
	}
	if !rc.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="telemetryd receiver"`)
		reject(outcomeUnauthorize, http.StatusUnauthorized, "this receiver needs its receive key: Authorization: Bearer <key>")
		return
	}
	if media, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || media != "application/json" {
		reject(outcomeMediaType, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	tooLarge := "a snapshot body may hold at most " + strconv.Itoa(MaxSnapshotBody) + " bytes"
	if r.ContentLength > MaxSnapshotBody {
		reject(outcomeTooLarge, http.StatusRequestEntityTooLarge, tooLarge)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxSnapshotBody+1))
	if err != nil {
		reject(outcomeInvalid, http.StatusBadRequest, "reading the body failed")
		return
	}
	if len(body) > MaxSnapshotBody {
		reject(outcomeTooLarge, http.StatusRequestEntityTooLarge, tooLarge)
		return
	}
	if !json.Valid(body) {
		reject(outcomeInvalid, http.StatusBadRequest, "the body is not JSON")
		return
	}
	start := time.Now()
	defer func() { rc.duration.Observe(time.Since(start).Seconds()) }()
	snap, created, err := rc.Fleet.Receive(r.Context(), body)
	if err != nil {
		outcome := map[string]string{
			telemetryd.EINVALID: outcomeInvalid, telemetryd.ECONFLICT: outcomeConflict, telemetryd.EUNAVAILABLE: outcomeUnavailable,
		}[telemetryd.ErrorCode(err)]
		if outcome == "" {
			outcome = outcomeError
		}
		rc.received.WithLabelValues(outcome).Inc()
		rc.fail(w, r, err)
		return
	}
	status, outcome := http.StatusOK, outcomeDuplicate
	if created {
		status, outcome = http.StatusCreated, outcomeCreated
	}
	rc.received.WithLabelValues(outcome).Inc()
	writeJSON(w, status, map[string]string{"id": snap.ID, "checksum": snap.Checksum, "status": outcome})
}

// handleReceive serves the receive route: 404 unless the server receives.
func (s *Server) handleReceive(w http.ResponseWriter, r *http.Request) {
	if s.receiving == nil {
		writeError(w, http.StatusNotFound, "this server does not receive snapshots (telemetryd serve --receive)")
		return
	}
	s.receiving.ServeHTTP(w, r)
}
