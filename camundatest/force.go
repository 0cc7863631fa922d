package camundatest

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/ebb-go/ebb/verdict"
)

// Routes lists the route templates the gateway serves, in the order the
// package doc gives them: the names Faults.Routes, Force and Stats use.
func Routes() []string {
	return []string{
		"/v2/topology",
		"/v2/process-instances",
		"/v2/jobs/activation",
		"/v2/jobs/{jobKey}/completion",
		"/v2/jobs/{jobKey}/failure",
		"/v2/jobs/{jobKey}/error",
	}
}

// forcible lists, per operation, the statuses its route documents in
// Camunda's OpenAPI specs (8.8, 8.9 and main), besides success, and 429,
// the backpressure answer of 8.6, 8.7 and of proxies in front of any
// release.
var forcible = map[op][]int{
	opTopology:       {401, 500},
	opCreateInstance: {400, 409, 429, 500, 503, 504},
	opActivate:       {400, 401, 429, 500, 503},
	opComplete:       {400, 404, 409, 429, 500, 503},
	opFail:           {400, 404, 409, 429, 500, 503},
	opThrowError:     {400, 404, 409, 429, 500, 503},
}

// ForcibleStatuses returns the statuses Force accepts for route: the error
// answers Camunda documents for it, and 429.
func ForcibleStatuses(route string) []int {
	return slices.Clone(forcible[opOf(route)])
}

// opOf maps a route template to its operation, opNone if the gateway does
// not serve it.
func opOf(route string) op {
	switch route {
	case "/v2/topology":
		return opTopology
	case "/v2/process-instances":
		return opCreateInstance
	case "/v2/jobs/activation":
		return opActivate
	case "/v2/jobs/{jobKey}/completion":
		return opComplete
	case "/v2/jobs/{jobKey}/failure":
		return opFail
	case "/v2/jobs/{jobKey}/error":
		return opThrowError
	}
	return opNone
}

// checkRoute fails unless route is one the gateway serves.
func checkRoute(where, route string) error {
	if opOf(route) == opNone {
		return fmt.Errorf("camundatest: %s: unknown route %q; the gateway serves %s", where, route, strings.Join(Routes(), ", "))
	}
	return nil
}

// forced is an answer forced on a route: status, for left more requests
// (negative: until Unforce).
type forced struct {
	status, left int
}

// Force makes the gateway answer the next n requests on route (a template
// from Routes, such as /v2/jobs/{jobKey}/error) with status instead of
// serving them; a negative n forces every request until Unforce, and 0 is
// Unforce(route). Each status comes in the body Camunda sends for it on
// that route (see the package doc), so that a test can drive a client
// through every answer the API documents, such as a 500 on throwing a job
// error. A forced request is not carried out, and is counted in
// RouteStats.Forced. Requests the gateway refuses before forced answers
// apply — a body that does not validate, an unknown route — are answered as
// ever.
//
// Force fails if route is not one the gateway serves, or if status is not
// among ForcibleStatuses(route).
func (g *Gateway) Force(route string, status, n int) error {
	if err := checkRoute("Force", route); err != nil {
		return err
	}
	if !slices.Contains(forcible[opOf(route)], status) {
		return fmt.Errorf("camundatest: Force: %s does not answer %d; it documents %s", route, status, statusList(forcible[opOf(route)]))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if n == 0 {
		delete(g.forced, route)
		return nil
	}
	g.forced[route] = &forced{status: status, left: n}
	return nil
}

// Unforce ends the answers forced on route, or on every route if route is
// empty.
func (g *Gateway) Unforce(route string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if route == "" {
		clear(g.forced)
		return
	}
	delete(g.forced, route)
}

// takeForcedLocked returns the status forced on the next request on route,
// or 0, and counts the request against the forced answers left.
func (g *Gateway) takeForcedLocked(route string) int {
	f := g.forced[route]
	if f == nil {
		return 0
	}
	if f.left > 0 {
		f.left--
		if f.left == 0 {
			delete(g.forced, route)
		}
	}
	return f.status
}

func statusList(s []int) string {
	parts := make([]string, len(s))
	for i, n := range s {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ", ")
}

// The texts of forced answers that Camunda words from a cause the emulator
// does not have; the title and the frame of the detail are Camunda's.
const (
	// A failure inside the gateway or broker: RestErrorMapper titles it
	// with the exception's class and prefixes its message.
	titleInternal  = "java.lang.IllegalStateException"
	detailInternal = "Unexpected error occurred during the request processing: the emulated broker failed (answer forced by camundatest)"
	// A request without valid credentials.
	titleUnauthorized  = "Unauthorized"
	detailUnauthorized = "The request is not authenticated (answer forced by camundatest)"
)

// forcedAnswer is the answer forced with status on operation o; req is the
// parsed request, whose job key or process the detail names.
func forcedAnswer(o op, status int, req any, instance string) *verdict.Problem {
	var key int64
	var intent, verb string
	switch o {
	case opComplete:
		intent, verb = "COMPLETE", "complete"
	case opFail:
		intent, verb = "FAIL", "fail"
	case opThrowError:
		intent, verb = "THROW_ERROR", "throw an error for"
	}
	if c, ok := req.(*jobCommand); ok {
		key = c.key
	}
	switch status {
	case http.StatusBadRequest:
		switch o {
		case opActivate:
			return invalidArgument("No type provided.", instance)
		case opCreateInstance:
			return invalidArgument("At least one of [processDefinitionId, processDefinitionKey] is required.", instance)
		}
		return rejection(intent, "INVALID_ARGUMENT", fmt.Sprintf("Expected to %s job with key '%d', but the command was invalid (answer forced by camundatest)", verb, key), instance)
	case http.StatusUnauthorized:
		return problem(status, titleUnauthorized, detailUnauthorized, instance)
	case http.StatusNotFound:
		return rejection(intent, "NOT_FOUND", fmt.Sprintf("Expected to %s job with key '%d', but no such job was found", verb, key), instance)
	case http.StatusConflict:
		if o == opCreateInstance {
			id := "?"
			if c, ok := req.(*createRequest); ok {
				id = cmp.Or(c.id, c.key)
			}
			return rejection("CREATE", "ALREADY_EXISTS", fmt.Sprintf("Expected to create an instance of process '%s' with a business id, but an active instance already has it (answer forced by camundatest)", id), instance)
		}
		return rejection(intent, "INVALID_STATE", fmt.Sprintf("Expected to %s job with key '%d', but it is in state 'FAILED'", verb, key), instance)
	case http.StatusTooManyRequests:
		return problem(status, titleResourceExhausted, detailCapacity, instance)
	case http.StatusInternalServerError:
		return problem(status, titleInternal, detailInternal, instance)
	case http.StatusServiceUnavailable:
		return problem(status, titleResourceExhausted, detailRetriesExhausted, instance)
	}
	return faultDeadlineExceeded.problem(instance)
}
