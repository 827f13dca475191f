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
	// redacted is endpoint fit for logs and errors: see Endpoint.
	redacted string
	timeout  time.Duration
	enabled  bool
	client   *http.Client
}

// NewSender checks the endpoint (https, or http on a loopback host such
// as 127.0.0.1, ::1 or localhost) and the timeout even when sending is
// off, so a configuration error shows at start rather than when a user
// turns sending on. Its errors name the endpoint only in redacted form
// (see Endpoint).
func NewSender(cfg SenderConfig) (*Sender, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		// url.Parse's error quotes the raw URL, secrets and all.
		return nil, errors.New("telemetry endpoint: must be an absolute URL")
	}
	if err := checkEndpoint(u); err != nil {
		return nil, fmt.Errorf("telemetry endpoint %q: %w", redact(u), err)
	}
	if cfg.Timeout <= 0 {
		return nil, errors.New("telemetry timeout must be positive")
	}
	return &Sender{
		endpoint: cfg.Endpoint,
		redacted: redact(u),
		timeout:  cfg.Timeout,
		enabled:  cfg.Enabled,
		client: &http.Client{
			Timeout:       cfg.Timeout,
			CheckRedirect: sameHostRedirects(u.Host),
		},
	}, nil
}

// Endpoint returns the URL snapshots are posted to, redacted for logs:
// user information reads "xxxxx" (a lone user name is often a token), and
// the query and fragment, where tokens are often passed, are left out.
func (s *Sender) Endpoint() string { return s.redacted }

// redact returns u without its user information, query and fragment.
func redact(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User("xxxxx")
	}
	c.RawQuery, c.ForceQuery = "", false
	c.Fragment, c.RawFragment = "", ""
	return c.String()
}

// Enabled reports whether remote sending is on. A nil Sender is off.
func (s *Sender) Enabled() bool { return s != nil && s.enabled }

// RemoteEnabled applies the DO_NOT_TRACK convention to the
// --telemetry-remote setting: DO_NOT_TRACK=1 (or true, yes) forces
// sending off.
func RemoteEnabled(remote bool, getenv func(string) string) bool {
	return remote && !DoNotTrack(getenv)
}

// DoNotTrack reports whether the DO_NOT_TRACK environment variable asks
// for no remote sending: 1, true or yes.
func DoNotTrack(getenv func(string) string) bool {
	switch strings.ToLower(strings.TrimSpace(getenv("DO_NOT_TRACK"))) {
	case "1", "true", "yes":
		return true
	}
	return false
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
		// The code and Go's own text for it, never the receiver's reason
		// phrase, which could be of any length and content.
		reason := strings.TrimSpace(fmt.Sprintf("receiver answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode)))
		return Outcome{Status: telemetryd.SendFailed, Reason: reason}
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
func checkEndpoint(u *url.URL) error {
	switch {
	case u.Host == "":
		return errors.New("must be an absolute URL")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return errors.New("must use https unless the host is loopback")
	}
	return errors.New("must use https")
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
