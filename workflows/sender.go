package workflows

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/telemetryd/telemetryd"
)

// maxResponseBytes bounds how much of a receiver's answer is read: only
// the status matters, but draining a little lets the connection be reused.
const maxResponseBytes = 64 << 10

// SenderConfig says where and whether snapshots are sent.
type SenderConfig struct {
	// Endpoint receives the POSTs: https, or http on a loopback host.
	Endpoint string
	// Timeout bounds one send from connecting to reading the answer.
	Timeout time.Duration
	// Enabled is --telemetry-remote after DO_NOT_TRACK (see RemoteEnabled).
	// When false, Send answers skipped without any connection.
	Enabled bool
}

// Sender posts snapshots to the remote endpoint. It is safe for
// concurrent use.
type Sender struct {
	endpoint string
	timeout  time.Duration
	enabled  bool
	client   *http.Client
}

// NewSender checks the endpoint (https, or http on a loopback host such
// as 127.0.0.1, ::1 or localhost) and the timeout even when sending is
// off, so a configuration error shows at start rather than when a user
// turns sending on.
func NewSender(cfg SenderConfig) (*Sender, error) {
	u, err := checkEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("telemetry endpoint %q: %w", cfg.Endpoint, err)
	}
	if cfg.Timeout <= 0 {
		return nil, fmt.Errorf("telemetry timeout must be positive")
	}
	return &Sender{
		endpoint: cfg.Endpoint,
		timeout:  cfg.Timeout,
		enabled:  cfg.Enabled,
		client: &http.Client{
			Timeout:       cfg.Timeout,
			CheckRedirect: sameHostRedirects(u.Host),
		},
	}, nil
}

// Endpoint returns the URL snapshots are posted to.
func (s *Sender) Endpoint() string { return s.endpoint }

// Enabled reports whether remote sending is on. A nil Sender is off.
func (s *Sender) Enabled() bool { return s != nil && s.enabled }

// RemoteEnabled applies the DO_NOT_TRACK convention to the
// --telemetry-remote setting: DO_NOT_TRACK=1 (or true, yes) forces
// sending off.
func RemoteEnabled(remote bool, getenv func(string) string) bool {
	switch strings.ToLower(strings.TrimSpace(getenv("DO_NOT_TRACK"))) {
	case "1", "true", "yes":
		return false
	}
	return remote
}

// Outcome is the result of one send, as recorded on the snapshot.
type Outcome struct {
	Status telemetryd.SendStatus
	// Reason is a short explanation of a failure, free of URLs and
	// secrets; empty unless Status is failed.
	Reason string
}

// Send posts the snapshot's remote body and reports the outcome: sent on
// any 2xx answer, failed with a short reason on anything else, a timeout
// or a network error, skipped when sending is off (no connection is
// made).
func (s *Sender) Send(ctx context.Context, snap *telemetryd.Snapshot) Outcome {
	if !s.Enabled() {
		return Outcome{Status: telemetryd.SendSkipped}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(snap.RemoteBody()))
	if err != nil {
		return Outcome{Status: telemetryd.SendFailed, Reason: "invalid request"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "telemetryd/"+snap.Version)
	resp, err := s.client.Do(req)
	if err != nil {
		return Outcome{Status: telemetryd.SendFailed, Reason: s.reason(err)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Outcome{Status: telemetryd.SendFailed, Reason: "receiver answered " + resp.Status}
	}
	return Outcome{Status: telemetryd.SendSent}
}

// errRedirect refuses a redirect; its text becomes the recorded reason.
type errRedirect string

func (e errRedirect) Error() string { return string(e) }

// reason turns a client error into a short text fit for
// remote_send_error. It never uses err's own text, which names the
// endpoint URL and so may carry credentials.
func (s *Sender) reason(err error) string {
	var redirect errRedirect
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var errno syscall.Errno
	var netErr net.Error
	switch {
	case errors.As(err, &redirect):
		return string(redirect)
	case errors.Is(err, context.Canceled):
		return "canceled before the receiver answered"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timed out after " + s.timeout.String()
	case errors.As(err, &dns):
		return "receiver host not found"
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return "receiver's TLS certificate not trusted"
	case errors.As(err, &errno):
		// Such as "connection refused" or "connection reset by peer".
		return errno.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "receiver closed the connection"
	}
	return "network error"
}

// sameHostRedirects follows redirects only to the endpoint's own host and
// only when they keep the POST, since a 301/302/303 would turn it into a
// GET whose 2xx proves nothing.
func sameHostRedirects(host string) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		switch {
		case len(via) >= 5:
			return errRedirect("too many redirects")
		case req.URL.Host != host:
			return errRedirect("redirect to another host refused")
		case req.Method != http.MethodPost:
			return errRedirect("redirect that drops the body refused")
		case req.URL.Scheme != "https" && !isLoopback(req.URL.Hostname()):
			return errRedirect("redirect to plain http refused")
		}
		return nil
	}
}

// checkEndpoint accepts https URLs, and http only to a loopback host.
func checkEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, errors.New("must be an absolute URL")
	}
	switch {
	case u.Scheme == "https":
		return u, nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return u, nil
	case u.Scheme == "http":
		return nil, errors.New("must use https unless the host is loopback")
	}
	return nil, errors.New("must use https")
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
