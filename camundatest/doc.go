// Package camundatest provides an emulated Camunda 8 gateway for tests, in
// the spirit of net/http/httptest: a stand-in for the Orchestration Cluster
// REST API (/v2/...) with real job state, a finite capacity that pushes back
// the way a real cluster does, and faults on demand.
//
//	gw := camundatest.NewGateway(camundatest.WithCapacity(camundatest.Capacity{
//		Slots: 8, ServiceTime: 20 * time.Millisecond,
//	}))
//	defer gw.Close()
//	resp, err := gw.Client().Post(gw.URL()+"/v2/process-instances", "application/json",
//		strings.NewReader(`{"processDefinitionId":"order"}`))
//
// [NewGateway] listens on a loopback port; [New] builds a gateway without a
// listener, to serve through [Gateway.Handler] or, with no socket and no
// goroutine, through [Gateway.Transport], which suits tests under
// testing/synctest.
//
// # What it emulates
//
// The routes, request fields, answers and error bodies follow Camunda's
// documentation of the REST API and the gateway's and broker's source:
//
//	GET  /v2/topology                     one broker leading one partition
//	POST /v2/process-instances            200; the instance waits on one job
//	POST /v2/jobs/activation              200 {"jobs":[...]}, long polling
//	POST /v2/jobs/{jobKey}/completion     204
//	POST /v2/jobs/{jobKey}/failure        204
//	POST /v2/jobs/{jobKey}/error          204
//
// Every process definition is deployed on first use, at version 1, and each
// of its instances produces one job, of the type declared WithProcess, or
// WithDefaultJobType, or else named like the process. Keys are int64, handed
// out from 2251799813685249 as on Zeebe's partition 1, and written as JSON
// strings as the 8.8 API does; requests may send them as strings or numbers.
//
// Jobs move as the broker moves them. An activation locks a job until its
// timeout lapses, after which it can be activated again. A failure with
// retries left makes the job activatable again once its retryBackOff has
// passed; with no retries left it raises an incident. Completing, failing or
// throwing an error for a job that does not exist (never did, or was
// completed) is refused 404 NOT_FOUND; for a job that failed (in back-off or
// in an incident), 409 INVALID_STATE; the detail is the broker's, such as
// "Command 'COMPLETE' rejected with code 'NOT_FOUND': Expected to complete
// job with key '2251799813685252', but no such job was found". Bodies the
// gateway would refuse are answered 400 (INVALID_ARGUMENT for a missing or
// bad field, "Bad Request" for a body that is not the expected JSON).
// Unknown routes are answered 404, wrong methods 405, each as an RFC 9457
// problem detail.
//
// Job activation long-polls as the gateway does: it answers as soon as jobs
// are activatable, or with no jobs once requestTimeout (in milliseconds) has
// passed; 0 or none means DefaultLongPollTimeout, 10s, the gateway's
// default; a negative requestTimeout answers at once. A lock that lapses or
// a back-off that ends wakes a waiting activation, as do new jobs. When the
// request's context ends the wait ends with it.
//
// With WithContextPath the API is served under a context path such as
// /zeebe; routes are recognised by what follows it.
//
// # Capacity and backpressure
//
// A [Capacity] bounds the requests in service (Slots), the rate at which
// they are accepted (Rate, a token bucket) and how long each is served
// (ServiceTime). A request beyond it is refused at once, as the broker's
// limiter refuses, in the shape of the gateway's [Version]:
//
//	V86   429 RESOURCE_EXHAUSTED "Reached maximum capacity of requests handled"
//	      (WithExceptionTitle: title io.camunda.zeebe.broker.client.api.RequestRetriesExhaustedException)
//	V880  503 RESOURCE_EXHAUSTED for commands; job activation: 500
//	      java.lang.RuntimeException "Unexpected error occurred during the request
//	      processing: Expected to activate jobs of type '<type>', but no jobs
//	      available and at least one broker returned 'RESOURCE_EXHAUSTED'. ..."
//	V883  503 RESOURCE_EXHAUSTED "Expected to handle request, but all retries
//	      have been exhausted" (the default)
//
// Job completion, failure and error are never refused for capacity and take
// no slot, as the broker always accepts commands that drain work; the
// topology, answered by the gateway itself, is not bound either. A job
// activation holds a slot while it is served, not while it waits for jobs.
// [Gateway.SetCapacity] changes the capacity while the gateway runs.
//
// # Faults
//
// [Faults] answer a seeded share of requests 503 UNAVAILABLE, 502 ABORTED or
// 504 DEADLINE_EXCEEDED, optionally after carrying them out, and delay every
// answer by a latency. [Gateway.StartOutOfDisk] refuses every command,
// completions included, with the broker's out-of-disk RESOURCE_EXHAUSTED.
// [Gateway.StartOutage] refuses connections (the listener closes and later
// listens again on the same port) or resets them. Each period can be ended
// explicitly or given a duration (OutOfDiskFor, OutageFor). WithRetryAfter
// adds a Retry-After header to every refusal.
//
// # Counters
//
// [Gateway.Stats] counts, per route template (verdict.RouteOf), the requests
// received, accepted, and refused by reason, and the jobs created,
// activated, completed, failed and errored and the incidents.
// WithBodyHashes keeps the SHA-256 of every body received, per route, so a
// test can prove that a retried request carried the very same bytes
// ([Gateway.BodyHashes]).
//
// # Where it deviates
//
// It is not a workflow engine: there are no BPMN models, deployments,
// messages, user tasks or searches, and no authentication. A BPMN error
// thrown for a job is taken as caught, ending the job, where a real cluster
// without a matching catch event would raise an incident. The cluster has a
// single partition, so backpressure is all or nothing rather than per
// partition. Lock timeouts are exact, where the broker checks them
// periodically. Job activation honours type, maxJobsToActivate, timeout,
// requestTimeout, worker and fetchVariable, and ignores tenantIds. Process
// instance creation ignores awaitCompletion and start instructions. The
// details of injected faults are the emulator's own words; those of
// backpressure, out-of-disk and job rejections are Camunda's. Keys are
// strings for every Version, though 8.6 wrote some as numbers.
//
// # Defaults
//
// Version V883; no context path; unlimited capacity with no service time; no
// faults and no Retry-After; seed 1; job type = process definition ID; 3
// retries per job; 10s long poll; no body hashes; bodies over MaxBodySize
// (4 MiB) answered 413; tenant "<default>"; Start listens on 127.0.0.1:0.
//
// # Concurrency
//
// A Gateway is safe for concurrent use: requests are served concurrently,
// and every method, including the setters and Stats, may be called while
// requests are in flight. Settings take effect for the requests that arrive
// after the call. Close ends waiting long polls and returns once every
// request has been answered or abandoned, leaving no goroutine behind. The
// gateway starts no goroutine of its own beyond its listener's; timed
// periods use time.AfterFunc, stopped by Close.
package camundatest
