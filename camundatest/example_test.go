package camundatest_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/ebb-go/ebb/camundatest"
)

// A worker's round trip against the emulated gateway: start an instance,
// activate its job, complete it, and read the counters.
func Example() {
	gw := camundatest.NewGateway(camundatest.WithProcess("order-process", "ship-parcel"))
	defer gw.Close()

	post := func(path, body string, v any) int {
		resp, err := gw.Client().Post(gw.URL()+path, "application/json", strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		if v != nil {
			if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
				panic(err)
			}
		}
		return resp.StatusCode
	}

	var instance struct{ ProcessInstanceKey string }
	status := post("/v2/process-instances", `{"processDefinitionId":"order-process","variables":{"orderId":42}}`, &instance)
	fmt.Println("create:", status, instance.ProcessInstanceKey)

	var activated struct {
		Jobs []struct {
			JobKey    string
			Type      string
			Variables map[string]any
		}
	}
	status = post("/v2/jobs/activation", `{"type":"ship-parcel","maxJobsToActivate":10,"timeout":30000,"worker":"example"}`, &activated)
	job := activated.Jobs[0]
	fmt.Println("activate:", status, job.JobKey, job.Type, job.Variables["orderId"])

	status = post("/v2/jobs/"+job.JobKey+"/completion", `{"variables":{"shipped":true}}`, nil)
	fmt.Println("complete:", status)

	s := gw.Stats()
	fmt.Println("completed:", s.JobsCompleted, "open:", s.JobsOpen)
	// Output:
	// create: 200 2251799813685250
	// activate: 200 2251799813685252 ship-parcel 42
	// complete: 204
	// completed: 1 open: 0
}

// A gateway with no room left answers the way the chosen Camunda version
// does.
func ExampleCapacity() {
	gw, err := camundatest.New(
		camundatest.WithVersion(camundatest.V880),
		// One request, then nothing for a very long time.
		camundatest.WithCapacity(camundatest.Capacity{Rate: 1e-9, Burst: 1}),
	)
	if err != nil {
		panic(err)
	}
	defer gw.Close()
	client := &http.Client{Transport: gw.Transport()} // in memory

	for range 2 {
		resp, err := client.Post("http://gateway.test/v2/jobs/activation", "application/json",
			strings.NewReader(`{"type":"ship-parcel","maxJobsToActivate":1,"timeout":1000,"requestTimeout":-1}`))
		if err != nil {
			panic(err)
		}
		var p struct{ Title string }
		_ = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, cmp.Or(p.Title, "(jobs)"))
	}
	// Output:
	// 200 (jobs)
	// 500 java.lang.RuntimeException
}

// Faults can be switched on and off while the gateway runs.
func ExampleGateway_StartOutOfDisk() {
	gw, _ := camundatest.New()
	defer gw.Close()
	client := gw.Client() // in memory: the gateway was not started

	create := func() {
		resp, err := client.Post("http://gateway.test/v2/process-instances", "application/json",
			strings.NewReader(`{"processDefinitionId":"order-process"}`))
		if err != nil {
			panic(err)
		}
		var p struct{ Detail string }
		_ = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, cmp.Or(p.Detail, "(created)"))
	}
	gw.StartOutOfDisk()
	create()
	gw.StopOutOfDisk()
	create()
	// Output:
	// 503 Cannot accept requests for partition 1. Broker is out of disk space
	// 200 (created)
}

// Forcing the answers a client must cope with: here the 500 that throwing a
// BPMN error may get, once.
func ExampleGateway_Force() {
	gw := camundatest.NewGateway()
	defer gw.Close()
	if err := gw.Force("/v2/jobs/{jobKey}/error", http.StatusInternalServerError, 1); err != nil {
		panic(err)
	}
	for range 2 {
		resp, err := gw.Client().Post(gw.URL()+"/v2/jobs/2251799813685252/error", "application/json",
			strings.NewReader(`{"errorCode":"OUT_OF_STOCK"}`))
		if err != nil {
			panic(err)
		}
		var p struct{ Title string }
		json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, p.Title)
	}
	// Output:
	// 500 java.lang.IllegalStateException
	// 404 NOT_FOUND
}

// Camunda 8.6 writes keys as JSON numbers, unless the request asks for the
// string-keys media type.
func ExampleV86() {
	gw := camundatest.NewGateway(camundatest.WithVersion(camundatest.V86))
	defer gw.Close()
	for _, accept := range []string{"application/json", "application/vnd.camunda.api.keys.string+json"} {
		req, _ := http.NewRequest("POST", gw.URL()+"/v2/process-instances", strings.NewReader(`{"processDefinitionId":"order"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", accept)
		resp, err := gw.Client().Do(req)
		if err != nil {
			panic(err)
		}
		var created map[string]json.RawMessage
		json.NewDecoder(resp.Body).Decode(&created)
		resp.Body.Close()
		fmt.Println(resp.Header.Get("Content-Type"), string(created["processInstanceKey"]))
	}
	// Output:
	// application/json 2251799813685250
	// application/vnd.camunda.api.keys.string+json "2251799813685253"
}
