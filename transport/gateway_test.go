package transport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/camundatest"
	"github.com/ebb-go/ebb/verdict"
)

// post sends a JSON body through rt and returns the status and body.
func post(t *testing.T, rt http.RoundTripper, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// TestGatewayVersionsRecover drives the chain against the emulated gateway
// in each server version's backpressure shape: a gateway that accepts one
// request a second refuses most attempts, and the chain still gets every
// command and job activation through, replaying each POST byte for byte.
func TestGatewayVersionsRecover(t *testing.T) {
	for _, v := range []camundatest.Version{camundatest.V86, camundatest.V880, camundatest.V883} {
		t.Run(v.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				gw, err := camundatest.New(camundatest.WithVersion(v), camundatest.WithBodyHashes(),
					camundatest.WithProcess("order", "ship"),
					camundatest.WithCapacity(camundatest.Capacity{Rate: 2, Burst: 1}))
				if err != nil {
					t.Fatal(err)
				}
				defer gw.Close()
				rt := New(gw.Transport())
				const n = 4
				bodies := map[string]bool{}
				for i := range n {
					body := `{"processDefinitionId":"order","variables":{"i":` + string(rune('0'+i)) + `}}`
					sum := sha256.Sum256([]byte(body))
					bodies[hex.EncodeToString(sum[:])] = true
					if code, data := post(t, rt, "http://gw/v2/process-instances", body); code != 200 {
						t.Fatalf("create %d: %d %s", i, code, data)
					}
				}
				code, data := post(t, rt, "http://gw/v2/jobs/activation", `{"type":"ship","maxJobsToActivate":10,"timeout":60000,"requestTimeout":-1}`)
				if code != 200 {
					t.Fatalf("activation: %d %s", code, data)
				}
				var act struct{ Jobs []json.RawMessage }
				if err := json.Unmarshal(data, &act); err != nil || len(act.Jobs) != n {
					t.Fatalf("activated %d jobs (%v), want %d", len(act.Jobs), err, n)
				}

				st := gw.Stats()
				create := st.Routes["/v2/process-instances"]
				if create.Backpressure == 0 || st.Routes["/v2/jobs/activation"].Backpressure+create.Backpressure < n {
					t.Fatalf("the gateway pushed back too little to test anything: %+v", st.Routes)
				}
				// Every attempt carried one of the bodies sent, unchanged.
				hashes := gw.BodyHashes("/v2/process-instances")
				if int64(len(hashes)) != create.Requests {
					t.Fatalf("%d hashes for %d requests", len(hashes), create.Requests)
				}
				for _, h := range hashes {
					if !bodies[h] {
						t.Fatalf("an attempt carried a body that was never sent: %s", h)
					}
				}
				t.Logf("%v: %d creates took %d attempts (%d refused); activation %d attempts",
					v, n, create.Requests, create.Backpressure, st.Routes["/v2/jobs/activation"].Requests)
			})
		})
	}
}

// TestThrowErrorSeedErrorsReachCaller: the errors documented for throwing a
// BPMN error (400, 404, 409, 500) are not retried and reach the caller
// exactly as the gateway sent them.
func TestThrowErrorSeedErrorsReachCaller(t *testing.T) {
	gw, err := camundatest.New(camundatest.WithProcess("order", "ship"), camundatest.WithJobRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	const boom = `{"type":"about:blank","title":"java.lang.IllegalStateException","status":500,"detail":"boom","instance":"/v2/jobs/1/error"}`
	var internalCalls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Job key 1 stands for the gateway's own internal errors, which
		// the emulator does not make.
		if strings.Contains(r.URL.Path, "/jobs/1/") {
			internalCalls++
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(500)
			io.WriteString(w, boom)
			return
		}
		gw.Handler().ServeHTTP(w, r)
	}))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	rt := New(base, fastRetry)

	// A job that failed with no retries left is in an incident: 409.
	post(t, rt, srv.URL+"/v2/process-instances", `{"processDefinitionId":"order"}`)
	_, data := post(t, rt, srv.URL+"/v2/jobs/activation", `{"type":"ship","maxJobsToActivate":1,"timeout":60000,"requestTimeout":-1}`)
	var act struct {
		Jobs []struct {
			Key string `json:"jobKey"`
		}
	}
	if err := json.Unmarshal(data, &act); err != nil || len(act.Jobs) != 1 {
		t.Fatalf("activation: %s", data)
	}
	key := act.Jobs[0].Key
	if code, data := post(t, rt, srv.URL+"/v2/jobs/"+key+"/failure", `{"retries":0,"errorMessage":"x"}`); code != 204 {
		t.Fatalf("failure: %d %s", code, data)
	}

	for _, tt := range []struct {
		name, key, body string
		code            int
		title           string
	}{
		{"400 invalid body", key, `{"errorMessage":"no code"}`, 400, ""},
		{"404 unknown job", "2251799899999999", `{"errorCode":"E"}`, 404, "NOT_FOUND"},
		{"409 wrong state", key, `{"errorCode":"E"}`, 409, "INVALID_STATE"},
		{"500 internal", "1", `{"errorCode":"E"}`, 500, "java.lang.IllegalStateException"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			route := "/v2/jobs/{jobKey}/error"
			before := gw.Stats().Routes[route].Requests
			calls := internalCalls
			code, data := post(t, rt, srv.URL+"/v2/jobs/"+tt.key+"/error", tt.body)
			if code != tt.code {
				t.Fatalf("status %d, want %d: %s", code, tt.code, data)
			}
			p, err := verdict.ParseProblem(data)
			if err != nil || p.Status != tt.code || (tt.title != "" && p.Title != tt.title) {
				t.Fatalf("problem %+v (%v) from %s", p, err, data)
			}
			if tt.code == 500 {
				if !bytes.Equal(data, []byte(boom)) || internalCalls-calls != 1 {
					t.Fatalf("500: %d calls, body %s", internalCalls-calls, data)
				}
				return
			}
			if sent := gw.Stats().Routes[route].Requests - before; sent != 1 {
				t.Fatalf("the gateway saw %d attempts, want 1", sent)
			}
		})
	}
}

// TestGatewayOutageTripsBreaker: a gateway that refuses connections trips
// the breaker, which then fails requests at once without sending them; when
// the gateway is back, traffic returns after the open period.
func TestGatewayOutageTripsBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gw, err := camundatest.New()
		if err != nil {
			t.Fatal(err)
		}
		defer gw.Close()
		if err := gw.StartOutage(camundatest.Refuse); err != nil {
			t.Fatal(err)
		}
		rt := New(gw.Transport())
		get := func() error {
			req, _ := http.NewRequest("GET", "http://gw/v2/topology", nil)
			resp, err := rt.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			return err
		}
		var refused int
		for range 20 {
			if err := get(); err != nil && strings.Contains(err.Error(), "breaker:") {
				refused++
			}
		}
		if refused == 0 {
			t.Fatal("the breaker never opened on a host that refuses connections")
		}
		if err := gw.StopOutage(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(11 * time.Second) // past the default open period
		if err := get(); err != nil {
			t.Fatalf("after the outage and the open period: %v", err)
		}
		t.Logf("%d of 20 requests refused by the open breaker", refused)
	})
}

// TestDeadlineWhileLimiterHolds: a lone client the gateway keeps refusing is
// held at the limiter's floor; when its deadline passes during that wait,
// the last answer comes back, not a bare deadline error.
func TestDeadlineWhileLimiterHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gw, err := camundatest.New(camundatest.WithCapacity(camundatest.Capacity{Rate: 0.01, Burst: 1}))
		if err != nil {
			t.Fatal(err)
		}
		defer gw.Close()
		rt := New(gw.Transport(), WithBreaker(breaker.Settings{Disabled: true}))
		post(t, rt, "http://gw/v2/process-instances", `{"processDefinitionId":"order"}`) // takes the one token
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://gw/v2/process-instances", strings.NewReader(`{"processDefinitionId":"order"}`))
		start := time.Now()
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("want the last 503, got %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 503 || !strings.Contains(string(body), "RESOURCE_EXHAUSTED") {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("answered after %v, past the deadline", time.Since(start))
		}
		t.Logf("answered after %v with %d attempts at the gateway", time.Since(start), gw.Stats().Routes["/v2/process-instances"].Requests-1)
	})
}
