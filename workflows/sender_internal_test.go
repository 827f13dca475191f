package workflows

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The https-to-http downgrade is checked on the redirect policy itself: on
// loopback, where a test's receivers live, plain http is allowed by design,
// and the sender trusts only the system's certificate authorities, so no
// test receiver can stand in for a non-loopback https host.
func TestARedirectToPlainHTTPIsRefused(t *testing.T) {
	check := sameHostRedirects("telemetry.example")
	via := []*http.Request{httptest.NewRequest(http.MethodPost, "https://telemetry.example/v1", nil)}

	err := check(httptest.NewRequest(http.MethodPost, "http://telemetry.example/v1", nil), via)
	assert.EqualError(t, err, "redirect to plain http refused")
	assert.NoError(t, check(httptest.NewRequest(http.MethodPost, "https://telemetry.example/v2", nil), via),
		"staying on https is followed")
}
