// Package camundatest provides an emulated Camunda 8 gateway for tests, in
// the spirit of net/http/httptest: a stand-in for the Orchestration Cluster
// REST API (/v2/...) with real job state, a finite capacity that pushes back
// the way a real cluster does, and faults and documented error answers on
// demand.
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
// OpenAPI specs and the gateway's source:
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
// out from 2251799813685249 as on Zeebe's partition 1.
//
// Jobs move as the broker moves them. An activation locks a job until its
// timeout lapses, after which it can be activated again. A failure with
// retries left makes the job activatable again once its retryBackOff has
// passed; with no retries left it raises an incident. Completing, failing or
// throwing an error for a job that does not exist (never did, or was
// completed) is refused 404 NOT_FOUND; for a job that failed (in back-off or
// in an incident), 409 INVALID_STATE; the detail is the broker's, such as
// "Command 'COMPLETE' rejected with code 'NOT_FOUND': Expected to complete
// job with key '2251799813685252', but no such job was found". Unknown
// routes are answered 404, wrong methods 405, each as an RFC 9457 problem
// detail.
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
// # Versions
//
// [WithVersion] picks the release imitated; each behaviour follows the
// source named here. The specs are Camunda's published OpenAPI documents:
// for 8.6 and 8.7 the versioned specs of docs.camunda.io
// (camunda/camunda-docs, api/camunda/version-8.6 and version-8.7); for 8.8
// the spec bundled with @camunda8/orchestration-cluster-api 8.8.4; for 8.9
// the one bundled with its 9.1 line; for 8.10 the one on the main branch of
// camunda/orchestration-cluster-api-js, which follows Camunda's main.
//
//	keys in answers        8.6, 8.7: int64 numbers (*); from 8.8: strings
//	topology               8.6: brokers (nodeId, host, port, partitions (partitionId,
//	                       role, health), version), clusterSize, partitionsCount,
//	                       replicationFactor, gatewayVersion; 8.8: + lastCompletedChangeId;
//	                       8.9: + clusterId; 8.10: + brokerId, partitions' state
//	created instance       8.6: processDefinitionId, processDefinitionKey,
//	                       processDefinitionVersion, processInstanceKey, tenantId,
//	                       variables; 8.8: + tags; 8.9: + businessId
//	activated job          8.6: jobKey, type, processInstanceKey, processDefinitionId,
//	                       processDefinitionVersion, processDefinitionKey, elementId,
//	                       elementInstanceKey, customHeaders, worker, retries, deadline,
//	                       variables, tenantId; 8.8: + kind, listenerEventType;
//	                       8.9: + tags, userTask, rootProcessInstanceKey;
//	                       8.10: + businessId, leaseToken, physicalTenantId, priority
//	request fields         8.6: the 8.6 schemas; 8.8: + tags and runtimeInstructions
//	                       (creation), result (completion); 8.9: + businessId (creation),
//	                       tenantFilter (activation); 8.10: + withLease (activation),
//	                       leaseToken (job commands), businessId (completion)
//	unknown request field  8.6, 8.7: ignored; from 8.8: 400
//	number for a string    8.6, 8.7: read as its text; from 8.8: 400
//	backpressure           see Capacity and backpressure
//
// (*) 8.6 and 8.7 write keys as JSON numbers (int64) in application/json,
// and as strings when the request's Accept names
// application/vnd.camunda.api.keys.string+json; they also take request
// bodies in that type and in application/vnd.camunda.api.keys.number+json.
// Every release answers in the string-keys type when it is asked for, with
// that Content-Type. 8.7 answers as 8.6, 8.8.0 as 8.8.3, but for
// backpressure. Where a later spec marks a member
// required and nullable, the emulator sends null when it has no value
// (businessId of an instance created without one, userTask, leaseToken
// without withLease); tags are the instance's, rootProcessInstanceKey the
// job's own process instance, priority 0, physicalTenantId "default".
//
// Requests are checked in the order the gateway checks them, and refused
// with its answers:
//
//   - a body in a media type the route does not consume: 415 "Unsupported
//     Media Type", detail "Content-Type 'text/plain' is not supported.", as
//     Spring MVC answers a mapping that consumes application/json;
//   - a body missing where required: 400 "Bad Request", "Required request
//     body is missing"; a body that is not JSON: 400 "Bad Request", "Failed
//     to read request";
//   - a field its JSON mapper cannot bind, the first in the body's order:
//     400 "Bad Request", "Request property [maxJobsToActivates] cannot be
//     parsed", as GlobalControllerExceptionHandler words a Jackson
//     MismatchedInputException. A wrong type is such a field in every
//     release; so, from 8.8 on, are an unknown field and a number or
//     boolean for a string field, since Camunda made its mapper fail on
//     unknown properties and refuse coercion to strings (camunda/camunda
//     pull requests 37895 and 38181, backported to 8.8). A string holding
//     an integer is read as that integer, as Jackson reads it: Camunda's
//     TypeScript client in strict validation sends int64 fields so
//     ("timeout":"60000"). From 8.8 on a key is a string; a number there is
//     refused;
//   - what the gateway's validators refuse, every violation at once: 400
//     INVALID_ARGUMENT with the messages of Camunda's RequestValidator
//     joined by ". " and ending in ".", such as "No type provided. No
//     timeout provided.".
//
// # Capacity and backpressure
//
// A [Capacity] bounds the requests in service (Slots), the rate at which
// they are accepted (Rate, a token bucket) and how long each is served
// (ServiceTime). A request beyond it is refused at once, as the broker's
// limiter refuses, in the shape of the gateway's [Version]:
//
//	V86, V87  429 RESOURCE_EXHAUSTED "Reached maximum capacity of requests handled",
//	          job activation included, as 8.6 and 8.7 answer since their patches of
//	          October 2025 (camunda/camunda 40064, 40074)
//	          (WithExceptionTitle: title io.camunda.zeebe.broker.client.api.RequestRetriesExhaustedException,
//	          detail "Expected to handle REST API request, but all retries have been exhausted")
//	V880      503 RESOURCE_EXHAUSTED for commands; job activation: 500
//	          java.lang.RuntimeException "Unexpected error occurred during the request
//	          processing: Expected to activate jobs of type '<type>', but no jobs
//	          available and at least one broker returned 'RESOURCE_EXHAUSTED'. ..."
//	V883, V89, V810
//	          503 RESOURCE_EXHAUSTED "Expected to handle request, but all retries
//	          have been exhausted" (V883 is the default)
//
// Job completion, failure and error are never refused for capacity and take
// no slot, as the broker always accepts commands that drain work; the
// topology, answered by the gateway itself, is not bound either. A job
// activation holds a slot while it is served, not while it waits for jobs.
// [Gateway.SetCapacity] changes the capacity while the gateway runs.
//
// # Documented answers on demand
//
// [Gateway.Force] answers the next requests on a route with any error
// status the route documents (see [ForcibleStatuses]): 400, 401, 404, 409,
// 500, 503 and 504 where the spec lists them, and 429. Each comes in the
// body Camunda sends: 404 NOT_FOUND and 409 INVALID_STATE as the broker's
// rejections of the job named in the path, 409 ALREADY_EXISTS for a
// creation, 500 titled java.lang.IllegalStateException with the gateway's
// "Unexpected error occurred during the request processing: " before the
// cause, 503 as 8.8.3's RESOURCE_EXHAUSTED, 429 as 8.6's, 504
// DEADLINE_EXCEEDED. Causes the emulator cannot have are its own words,
// marked "(answer forced by camundatest)".
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
// # How it was checked
//
// Go tests hold every answer's members, per version, to the lists the specs
// above give. The conformance suite in the repository's conformance folder
// drives the emulator, built as examples/gateway, with Camunda's own
// TypeScript client, @camunda8/orchestration-cluster-api (8.8.4 for the
// 8.6 to 8.8 emulations, 9.1.5 for 8.9 and 8.10), with its request and
// response validation strict: every route, a job worker built with the
// client's worker API, and the client's backpressure handling on each
// version's refusals.
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
// requestTimeout, worker, fetchVariable and withLease, and ignores tenantIds
// and tenantFilter; a lease token is handed out but commands are not
// fenced by it. Process instance creation ignores awaitCompletion, start
// and runtime instructions, and the uniqueness of business ids; tags are
// not checked against their pattern. A request without a Content-Type is
// read as JSON, where Spring would refuse it 415; an Accept the gateway
// could not satisfy is answered as application/json, where Spring would
// answer 406; a second JSON value after the body is refused, where Jackson
// would ignore it. The details of injected faults are the emulator's own
// words; those of backpressure, out-of-disk, validation and job rejections
// are Camunda's.
//
// # Defaults
//
// Version V883; no context path; unlimited capacity with no service time; no
// faults, no forced answers and no Retry-After; seed 1; job type = process
// definition ID; 3 retries per job; 10s long poll; no body hashes; bodies
// over MaxBodySize (4 MiB) answered 413; tenant "<default>"; Start listens
// on 127.0.0.1:0.
//
// # Concurrency
//
// A Gateway is safe for concurrent use: requests are served concurrently,
// and every method, including the setters, Force and Stats, may be called
// while requests are in flight. Settings take effect for the requests that
// arrive after the call. Close ends waiting long polls and returns once
// every request has been answered or abandoned, leaving no goroutine
// behind. The gateway starts no goroutine of its own beyond its listener's;
// timed periods use time.AfterFunc, stopped by Close.
package camundatest
