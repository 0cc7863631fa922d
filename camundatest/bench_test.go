package camundatest_test

import (
	"testing"

	"github.com/ebb-go/ebb/camundatest"
)

// BenchmarkJobRoundTrip measures the emulator's own cost per job, in memory:
// create an instance, activate its job, complete it.
func BenchmarkJobRoundTrip(b *testing.B) {
	g := memGateway(b)
	b.ReportAllocs()
	for b.Loop() {
		createInstance(b, g, `{"processDefinitionId":"p","variables":{"n":1}}`)
		jobs := activateNow(b, g, "p", 1)
		if a := send(b, g, "POST", "/v2/jobs/"+jobs[0].JobKey+"/completion", ""); a.status != 204 {
			b.Fatal(a.status)
		}
	}
}

// BenchmarkRefused measures a request refused for capacity, the emulator's
// hottest path under overload.
func BenchmarkRefused(b *testing.B) {
	g := memGateway(b, camundatest.WithCapacity(camundatest.Capacity{Rate: 1e-9, Burst: 1}))
	b.ReportAllocs()
	for b.Loop() {
		send(b, g, "POST", "/v2/process-instances", `{"processDefinitionId":"p"}`)
	}
}
