package workflows_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/workflows"
)

func TestRunOnceRecordsTheRemoteOutcome(t *testing.T) {
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name string
		// sender returns the sender to use and the receiver behind it, if
		// any, whose connections are counted.
		sender     func(t *testing.T) (*workflows.Sender, *receiver)
		wantStatus telemetryd.SendStatus
		wantReason string
		// wantHits is how many requests reach the receiver; zero means 1.
		wantHits int32
	}{
		{
			name: "2xx is sent",
			sender: func(t *testing.T) (*workflows.Sender, *receiver) {
				r := newReceiver(t, answer(http.StatusAccepted))
				return newSender(t, r.URL+"/v1/snapshots", true, timeout), r
			},
			wantStatus: telemetryd.SendSent,
		},
		{
			name: "500 fails with the status as reason",
			sender: func(t *testing.T) (*workflows.Sender, *receiver) {
				r := newReceiver(t, answer(http.StatusInternalServerError))
				return newSender(t, r.URL, true, timeout), r
			},
			wantStatus: telemetryd.SendFailed,
			wantReason: "receiver answered 500 Internal Server Error",
		},
		{
			name: "a receiver's own reason phrase is not recorded",
			sender: func(t *testing.T) (*workflows.Sender, *receiver) {
				r := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
					conn, buf, err := http.NewResponseController(w).Hijack()
					if !assert.NoError(t, err) {
						return
					}
					defer conn.Close()
					_, _ = buf.WriteString("HTTP/1.1 599 " + strings.Repeat("planted receiver text ", 100) + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
					_ = buf.Flush()
				})
				return newSender(t, r.URL, true, timeout), r
			},
			wantStatus: telemetryd.SendFailed,
			wantReason: "receiver answered 599",
		},
		{
			name: "a receiver slower than the timeout fails within the timeout",
			sender: func(t *testing.T) (*workflows.Sender, *receiver) {
				release := make(chan struct{})
				r := newReceiver(t, func(w http.ResponseWriter, req *http.Request) {
					select {
					case <-release:
					case <-req.Context().Done():
					}
				})
				// Registered after the server's Close, so it runs first and
				// lets Close return.
				t.Cleanup(func() { close(release) })
				return newSender(t, r.URL, true, timeout), r
			},
			wantStatus: telemetryd.SendFailed,
			wantReason: "timed out after 300ms",
		},
		{
			name: "connection refused fails",
			sender: func(t *testing.T) (*workflows.Sender, *receiver) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				addr := ln.Addr().String()
				require.NoError(t, ln.Close())
				return newSender(t, "http://"+addr+"/v1/snapshots", true, timeout), nil
			},
			wantStatus: telemetryd.SendFailed,
			wantReason: "connection refused",
		},
		{
			name: "a redirect to another host fails without reaching it",
			sender: func(t *testing.T) (*workflows.Sender, *receiver) {
				other := newReceiver(t, answer(http.StatusOK))
				r := newReceiver(t, func(w http.ResponseWriter, req *http.Request) {
					http.Redirect(w, req, other.URL+"/v1/snapshots", http.StatusTemporaryRedirect)
				})
				t.Cleanup(func() { assert.Zero(t, other.conns.Load(), "the other host was contacted") })
				return newSender(t, r.URL, true, timeout), r
			},
			wantStatus: telemetryd.SendFailed,
			wantReason: "redirect to another host refused",
		},
		{
			name: "a redirect on the same host that keeps the POST is followed",
			sender: func(t *testing.T) (*workflows.Sender, *receiver) {
				r := newReceiver(t, func(w http.ResponseWriter, req *http.Request) {
					if req.URL.Path != "/v2" {
						http.Redirect(w, req, "/v2", http.StatusPermanentRedirect)
					}
				})
				return newSender(t, r.URL+"/v1", true, timeout), r
			},
			wantStatus: telemetryd.SendSent,
			wantHits:   2,
		},
		{
			name:       "a 302 that would turn the POST into a GET fails",
			sender:     redirectingSender(http.StatusFound, timeout),
			wantStatus: telemetryd.SendFailed,
			wantReason: "redirect that drops the body refused",
		},
		{
			name:       "a 303 that would turn the POST into a GET fails",
			sender:     redirectingSender(http.StatusSeeOther, timeout),
			wantStatus: telemetryd.SendFailed,
			wantReason: "redirect that drops the body refused",
		},
		{
			name: "endless redirects fail after five requests",
			sender: func(t *testing.T) (*workflows.Sender, *receiver) {
				r := newReceiver(t, func(w http.ResponseWriter, req *http.Request) {
					http.Redirect(w, req, req.URL.Path, http.StatusTemporaryRedirect)
				})
				return newSender(t, r.URL+"/v1", true, timeout), r
			},
			wantStatus: telemetryd.SendFailed,
			wantReason: "too many redirects",
			wantHits:   5,
		},
		{
			name: "remote off is skipped without a connection",
			sender: func(t *testing.T) (*workflows.Sender, *receiver) {
				r := newReceiver(t, answer(http.StatusOK))
				return newSender(t, r.URL, false, timeout), r
			},
			wantStatus: telemetryd.SendSkipped,
		},
		{
			name: "DO_NOT_TRACK=1 is skipped without a connection",
			sender: func(t *testing.T) (*workflows.Sender, *receiver) {
				r := newReceiver(t, answer(http.StatusOK))
				getenv := func(k string) string {
					if k == "DO_NOT_TRACK" {
						return "1"
					}
					return ""
				}
				return newSender(t, r.URL, workflows.RemoteEnabled(true, getenv), timeout), r
			},
			wantStatus: telemetryd.SendSkipped,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := openStore(t)
			sender, recv := tt.sender(t)
			runner := newRunner(st, sender, newClock(t, day1))
			reg := prometheus.NewRegistry()
			runner.Metrics = workflows.NewMetrics(reg)

			start := time.Now()
			snap, err := runner.RunOnce(ctx)
			elapsed := time.Since(start)
			require.NoError(t, err, "a remote outcome never fails the run")

			assert.Less(t, elapsed, timeout+2*time.Second, "the send outlived its timeout")
			assert.Equal(t, tt.wantStatus, snap.RemoteSendStatus)
			assert.Equal(t, tt.wantReason, snap.RemoteSendError)
			assert.Equal(t, day1, snap.RemoteSendAt)
			stored, err := st.Snapshot(ctx, snap.ID)
			require.NoError(t, err)
			assert.True(t, stored.Equal(snap), "the returned snapshot is the stored one")
			assert.True(t, stored.ChecksumValid(), "the local copy is intact whatever the remote did")
			assert.Equal(t, 1.0, metricValue(t, reg, "telemetryd_telemetry_sends_total", string(tt.wantStatus)))
			assert.Equal(t, 1.0, metricValue(t, reg, "telemetryd_telemetry_snapshots_total", workflows.SnapshotCreated))

			if recv == nil {
				return
			}
			if tt.wantStatus == telemetryd.SendSkipped {
				assert.Zero(t, recv.conns.Load(), "a skipped send connected to the receiver")
				return
			}
			wantHits := tt.wantHits
			if wantHits == 0 {
				wantHits = 1
			}
			require.Equal(t, wantHits, recv.hits.Load())
			if tt.wantStatus == telemetryd.SendSent {
				body := stored.RemoteBody()
				assert.JSONEq(t, string(body), string(recv.received()[0]), "the receiver got the record without remote_send_*")
			}
		})
	}
}

// redirectingSender sends to a receiver that redirects every POST to
// another path of its own with status; a GET that arrives there counts.
func redirectingSender(status int, timeout time.Duration) func(t *testing.T) (*workflows.Sender, *receiver) {
	return func(t *testing.T) (*workflows.Sender, *receiver) {
		r := newReceiver(t, func(w http.ResponseWriter, req *http.Request) {
			if req.Method == http.MethodPost {
				http.Redirect(w, req, "/elsewhere", status)
			}
		})
		return newSender(t, r.URL+"/v1", true, timeout), r
	}
}

func TestSendRecordsTheOutcome(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clock := newClock(t, day1)
	recv, recovered := newFailingReceiver(t, http.StatusServiceUnavailable)
	runner := newRunner(st, newSender(t, recv.URL, true, time.Second), clock)
	snap, err := runner.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, telemetryd.SendFailed, snap.RemoteSendStatus)
	require.Equal(t, "receiver answered 503 Service Unavailable", snap.RemoteSendError)

	t.Run("a re-send that succeeds is recorded as sent", func(t *testing.T) {
		recovered.Store(true)
		clock.Advance(time.Minute)
		got, err := runner.Send(ctx, snap.ID)
		require.NoError(t, err)
		assert.Equal(t, telemetryd.SendSent, got.RemoteSendStatus)
		assert.Empty(t, got.RemoteSendError)
		assert.Equal(t, day1.Add(time.Minute), got.RemoteSendAt)
		stored, err := st.Snapshot(ctx, snap.ID)
		require.NoError(t, err)
		assert.True(t, stored.Equal(got))
	})
	t.Run("remote off is recorded as skipped", func(t *testing.T) {
		hits := recv.hits.Load()
		off := newRunner(st, offSender(t), clock)
		got, err := off.Send(ctx, snap.ID)
		require.NoError(t, err)
		assert.Equal(t, telemetryd.SendSkipped, got.RemoteSendStatus)
		assert.Equal(t, hits, recv.hits.Load())
	})
	t.Run("an unknown id is not found", func(t *testing.T) {
		_, err := runner.Send(ctx, "00000000-0000-4000-8000-000000000000")
		assert.Equal(t, telemetryd.ENOTFOUND, telemetryd.ErrorCode(err))
	})
}

func TestNewSenderChecksTheEndpoint(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		timeout  time.Duration
		wantErr  string
	}{
		{name: "https is accepted", endpoint: "https://telemetry.example/v1", timeout: time.Second},
		{name: "http to 127.0.0.1 is accepted", endpoint: "http://127.0.0.1:9000/v1", timeout: time.Second},
		{name: "http to ::1 is accepted", endpoint: "http://[::1]:9000/v1", timeout: time.Second},
		{name: "http to localhost is accepted", endpoint: "http://localhost/v1", timeout: time.Second},
		{name: "http to another host is refused", endpoint: "http://telemetry.example/v1", timeout: time.Second, wantErr: "must use https unless the host is loopback"},
		{name: "another scheme is refused", endpoint: "ftp://telemetry.example/v1", timeout: time.Second, wantErr: "must use https"},
		{name: "a relative URL is refused", endpoint: "/v1/snapshots", timeout: time.Second, wantErr: "must be an absolute URL"},
		{name: "a zero timeout is refused", endpoint: "https://telemetry.example/v1", wantErr: "timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := workflows.NewSender(workflows.SenderConfig{Endpoint: tt.endpoint, Timeout: tt.timeout, Enabled: true})
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.endpoint, s.Endpoint())
			assert.True(t, s.Enabled())
		})
	}
}

func TestSenderNeverShowsEndpointSecrets(t *testing.T) {
	const password, token = "planted-password-7hq", "planted-token-k2v"
	tests := []struct {
		name     string
		endpoint string
		want     string // Endpoint(), or a text of NewSender's error
	}{
		{
			name:     "a valid endpoint is shown redacted",
			endpoint: "https://user:" + password + "@telemetry.example/v1?token=" + token + "#" + token,
			want:     "https://xxxxx@telemetry.example/v1",
		},
		{
			name:     "a lone user name, often a token, is redacted",
			endpoint: "https://" + token + "@telemetry.example/v1",
			want:     "https://xxxxx@telemetry.example/v1",
		},
		{
			name:     "a refused endpoint is named redacted in the error",
			endpoint: "http://user:" + password + "@telemetry.example/v1?token=" + token,
			want:     `"http://xxxxx@telemetry.example/v1": must use https unless the host is loopback`,
		},
		{
			name:     "an endpoint that does not parse is not named",
			endpoint: "https://user:" + password + "@telemetry.example/%zz?token=" + token,
			want:     "telemetry endpoint: must be an absolute URL",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := workflows.NewSender(workflows.SenderConfig{Endpoint: tt.endpoint, Timeout: time.Second, Enabled: true})
			shown := ""
			if err != nil {
				shown = err.Error()
			} else {
				shown = s.Endpoint()
			}
			assert.Contains(t, shown, tt.want)
			assert.NotContains(t, shown, password)
			assert.NotContains(t, shown, token)
		})
	}
}

func TestRemoteEnabledHonoursDoNotTrack(t *testing.T) {
	tests := []struct {
		name       string
		remote     bool
		doNotTrack string
		want       bool
	}{
		{name: "remote on stays on", remote: true, want: true},
		{name: "remote off stays off", remote: false, doNotTrack: "0", want: false},
		{name: "DO_NOT_TRACK=1 turns it off", remote: true, doNotTrack: "1", want: false},
		{name: "DO_NOT_TRACK=true turns it off", remote: true, doNotTrack: "true", want: false},
		{name: "DO_NOT_TRACK=0 leaves it on", remote: true, doNotTrack: "0", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "DO_NOT_TRACK" {
					return tt.doNotTrack
				}
				return ""
			}
			assert.Equal(t, tt.want, workflows.RemoteEnabled(tt.remote, getenv))
		})
	}
}

func TestRemoteBodyIsTheRecordWithoutRemoteSendFields(t *testing.T) {
	snap := telemetryd.NewSnapshot(testDeployment, telemetryd.Version, json.RawMessage(`{"a":1}`), day1, nil)
	require.NoError(t, snap.Seal())
	snap.RemoteSendStatus = telemetryd.SendFailed
	snap.RemoteSendError = "receiver answered 500 Internal Server Error"

	body := snap.RemoteBody()
	var got, record map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &got))
	full, err := json.Marshal(snap)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(full, &record))
	for _, k := range []string{"remote_send_status", "remote_send_at", "remote_send_error"} {
		delete(record, k)
	}
	assert.Equal(t, record, got)
}
