package verdict

import (
	"net/http"
	"strings"
	"sync"
)

// Route is what ebb knows about the operation a request path names.
type Route struct {
	// Template is the path with its keys collapsed, such as
	// /v2/jobs/{jobKey}/completion; it is empty when RouteOf does not know the
	// route. Templates returned by [Routes.Of] are never empty.
	Template string
	flags    routeFlags
}

type routeFlags uint8

const (
	flagSafe  routeFlags = 1 << iota // on Camunda's list of operations safe to repeat
	flagDrain                        // removes load from the cluster
)

// Safe reports whether the operation is on Camunda's list of operations that
// are safe to send again after an answer that leaves their outcome unknown:
// job activation, completion and failure; process-instance cancellation and
// migration; incident resolution; resource deletion; decision evaluation;
// topology; and the read-only search queries.
func (r Route) Safe() bool { return r.flags&flagSafe != 0 }

// Drain reports whether the operation removes load from the cluster — job
// completion, failure and error, user-task completion — so that holding it
// back would only prolong an overload.
func (r Route) Drain() bool { return r.flags&flagDrain != 0 }

// Other is the template of every route beyond the bound of a [Routes] table.
const Other = "other"

// camundaRoutes lists the routes of the Camunda 8 Orchestration Cluster REST
// API that get their own template. Any route ending in /search is safe too.
var camundaRoutes = []struct {
	template string
	flags    routeFlags
}{
	{"/v2/topology", flagSafe},
	{"/v2/status", flagSafe},
	{"/v2/license", flagSafe},
	{"/v2/authentication/me", flagSafe},
	{"/v2/clock", 0},
	{"/v2/clock/reset", 0},
	{"/v2/jobs/activation", flagSafe},
	{"/v2/jobs/{jobKey}", 0},
	{"/v2/jobs/{jobKey}/completion", flagSafe | flagDrain},
	{"/v2/jobs/{jobKey}/failure", flagSafe | flagDrain},
	{"/v2/jobs/{jobKey}/error", flagDrain},
	{"/v2/process-instances", 0},
	{"/v2/process-instances/{processInstanceKey}", 0},
	{"/v2/process-instances/{processInstanceKey}/cancellation", flagSafe},
	{"/v2/process-instances/{processInstanceKey}/migration", flagSafe},
	{"/v2/process-instances/{processInstanceKey}/modification", 0},
	{"/v2/process-instances/{processInstanceKey}/call-hierarchy", flagSafe},
	{"/v2/process-instances/{processInstanceKey}/sequence-flows", flagSafe},
	{"/v2/process-instances/{processInstanceKey}/statistics/element-instances", flagSafe},
	{"/v2/process-instances/cancellation", 0},
	{"/v2/process-instances/migration", 0},
	{"/v2/process-instances/modification", 0},
	{"/v2/process-instances/incident-resolution", 0},
	{"/v2/process-definitions/{processDefinitionKey}", flagSafe},
	{"/v2/process-definitions/{processDefinitionKey}/xml", flagSafe},
	{"/v2/process-definitions/{processDefinitionKey}/form", flagSafe},
	{"/v2/process-definitions/{processDefinitionKey}/statistics/element-instances", flagSafe},
	{"/v2/incidents/{incidentKey}", 0},
	{"/v2/incidents/{incidentKey}/resolution", flagSafe},
	{"/v2/resources/{resourceKey}", 0},
	{"/v2/resources/{resourceKey}/content", 0},
	{"/v2/resources/{resourceKey}/deletion", flagSafe},
	{"/v2/deployments", 0},
	{"/v2/decision-definitions/evaluation", flagSafe},
	{"/v2/decision-definitions/{decisionDefinitionKey}", 0},
	{"/v2/decision-definitions/{decisionDefinitionKey}/xml", 0},
	{"/v2/decision-instances/{decisionInstanceKey}", 0},
	{"/v2/decision-requirements/{decisionRequirementsKey}", 0},
	{"/v2/decision-requirements/{decisionRequirementsKey}/xml", 0},
	{"/v2/element-instances/{elementInstanceKey}", 0},
	{"/v2/element-instances/{elementInstanceKey}/variables", 0},
	{"/v2/element-instances/ad-hoc-activities/{adHocSubProcessInstanceKey}/activation", 0},
	{"/v2/variables/{variableKey}", 0},
	{"/v2/messages/publication", 0},
	{"/v2/messages/correlation", 0},
	{"/v2/signals/broadcast", 0},
	{"/v2/conditionals/evaluation", 0},
	{"/v2/user-tasks/{userTaskKey}", 0},
	{"/v2/user-tasks/{userTaskKey}/completion", flagDrain},
	{"/v2/user-tasks/{userTaskKey}/assignment", 0},
	{"/v2/user-tasks/{userTaskKey}/assignee", 0},
	{"/v2/user-tasks/{userTaskKey}/form", 0},
	{"/v2/user-tasks/{userTaskKey}/variables/search", 0},
	{"/v2/documents", 0},
	{"/v2/documents/batch", 0},
	{"/v2/documents/{documentId}", 0},
	{"/v2/documents/{documentId}/links", 0},
	{"/v2/batch-operations/{batchOperationKey}", 0},
	{"/v2/batch-operations/{batchOperationKey}/cancellation", 0},
	{"/v2/batch-operations/{batchOperationKey}/suspension", 0},
	{"/v2/batch-operations/{batchOperationKey}/resumption", 0},
	{"/v2/users", 0},
	{"/v2/users/{username}", 0},
	{"/v2/groups", 0},
	{"/v2/groups/{groupId}", 0},
	{"/v2/roles", 0},
	{"/v2/roles/{roleId}", 0},
	{"/v2/tenants", 0},
	{"/v2/tenants/{tenantId}", 0},
	{"/v2/mapping-rules", 0},
	{"/v2/mapping-rules/{mappingRuleId}", 0},
	{"/v2/authorizations", 0},
	{"/v2/authorizations/{authorizationKey}", 0},
	// The search queries, each a POST that reads.
	{"/v2/jobs/search", flagSafe},
	{"/v2/process-instances/search", flagSafe},
	{"/v2/process-definitions/search", flagSafe},
	{"/v2/incidents/search", flagSafe},
	{"/v2/decision-definitions/search", flagSafe},
	{"/v2/decision-instances/search", flagSafe},
	{"/v2/decision-requirements/search", flagSafe},
	{"/v2/element-instances/search", flagSafe},
	{"/v2/variables/search", flagSafe},
	{"/v2/user-tasks/search", flagSafe},
	{"/v2/batch-operations/search", flagSafe},
	{"/v2/batch-operation-items/search", flagSafe},
	{"/v2/message-subscriptions/search", flagSafe},
	{"/v2/users/search", flagSafe},
	{"/v2/groups/search", flagSafe},
	{"/v2/roles/search", flagSafe},
	{"/v2/tenants/search", flagSafe},
	{"/v2/mapping-rules/search", flagSafe},
	{"/v2/authorizations/search", flagSafe},
	{"/v2/process-instances/{processInstanceKey}/incidents/search", flagSafe},
	{"/v2/user-tasks/{userTaskKey}/audit-logs/search", flagSafe},
}

// node is one segment of Camunda's route tree: literal children by their
// segment, a child standing for a key ({jobKey}, {username}...), and the
// route that ends here.
type node struct {
	lit   []edge
	param *node
	route *Route
}

type edge struct {
	seg  string
	next *node
}

// camunda is the tree of the templates below /v2.
var camunda = func() *node {
	root := &node{}
	for _, r := range camundaRoutes {
		n := root
		for seg := range strings.SplitSeq(strings.TrimPrefix(r.template, "/v2/"), "/") {
			n = n.child(seg)
		}
		n.route = &Route{Template: r.template, flags: r.flags}
	}
	return root
}()

func (n *node) child(seg string) *node {
	if strings.HasPrefix(seg, "{") {
		if n.param == nil {
			n.param = &node{}
		}
		return n.param
	}
	for _, e := range n.lit {
		if e.seg == seg {
			return e.next
		}
	}
	c := &node{}
	n.lit = append(n.lit, edge{seg, c})
	return c
}

// match walks path (segments separated by slashes, empty ones skipped) from
// n, literal segments first, then a key, and returns the route it ends on.
func (n *node) match(path string) *Route {
	for len(path) > 0 && path[0] == '/' {
		path = path[1:]
	}
	if path == "" {
		return n.route
	}
	end := strings.IndexByte(path, '/')
	if end < 0 {
		end = len(path)
	}
	seg, rest := path[:end], path[end:]
	for _, e := range n.lit {
		if e.seg == seg {
			if r := e.next.match(rest); r != nil {
				return r
			}
			break
		}
	}
	if n.param != nil {
		return n.param.match(rest)
	}
	return nil
}

// maxPath bounds the normalised path held on the stack; longer paths are
// templated as Other.
const maxPath = 256

// RouteOf returns the route of a request path. Camunda 8 REST API routes are
// recognised behind any context path (/zeebe/v2/jobs/activation is
// /v2/jobs/activation) and come from a fixed tree, walked segment by segment
// without allocating. For any other path RouteOf returns a Route with an
// empty Template; use a [Routes] table to template those.
func RouteOf(path string) Route {
	r, _ := lookup(path, nil)
	return r
}

// lookup returns the Camunda route of path. When that route has no fixed
// template and buf is not nil, it writes the generic template of path into
// buf and returns its length, or -1 when it does not fit.
func lookup(path string, buf *[maxPath]byte) (Route, int) {
	r := camundaRoute(path)
	if r.Template != "" || buf == nil {
		return r, 0
	}
	return r, normalize(buf[:], "", path, "{id}", false)
}

func camundaRoute(path string) Route {
	i := strings.Index(path, "/v2/")
	if i < 0 {
		return Route{}
	}
	rest := path[i+4:]
	if r := camunda.match(rest); r != nil {
		return *r
	}
	if lastSegment(rest) == "search" {
		// A search newer than the table: it only reads, so it is safe;
		// its template is generic.
		return Route{flags: flagSafe}
	}
	return Route{}
}

// lastSegment returns the last non-empty segment of a path.
func lastSegment(p string) string {
	p = strings.TrimRight(p, "/")
	return p[strings.LastIndexByte(p, '/')+1:]
}

// normalize writes prefix then path into dst, one "/segment" at a time, with
// ID-like segments replaced by placeholder (and, when forceOdd, every second
// segment, where this REST API puts its keys). It drops empty segments and a
// trailing slash. It returns the length written, or -1 when dst is too small.
func normalize(dst []byte, prefix, path, placeholder string, forceOdd bool) int {
	n := copy(dst, prefix)
	if n < len(prefix) {
		return -1
	}
	idx := 0
	for len(path) > 0 {
		if path[0] == '/' {
			path = path[1:]
			continue
		}
		end := strings.IndexByte(path, '/')
		if end < 0 {
			end = len(path)
		}
		seg := path[:end]
		path = path[end:]
		if forceOdd && idx%2 == 1 || idLike(seg) {
			seg = placeholder
		}
		idx++
		if n+1+len(seg) > len(dst) {
			return -1
		}
		dst[n] = '/'
		n++
		n += copy(dst[n:], seg)
	}
	if n == 0 {
		if len(dst) == 0 {
			return -1
		}
		dst[0] = '/'
		n = 1
	}
	return n
}

// idLike reports whether a path segment looks like a key or an identifier
// rather than a word of the API: all digits (Camunda's keys), a UUID or long
// hex string, a mix of letters and digits of 8 characters or more, a word
// with an upper-case letter after a lower-case one (a random token, where
// API words are lower-case or kebab-case), any segment longer than 24 bytes
// (longer than the words of an API path), or anything with @, = or % in it.
func idLike(s string) bool {
	if len(s) == 0 {
		return false
	}
	if len(s) > 24 {
		return true
	}
	digits, hex := 0, 0
	lower, mixed := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			hex++
		case c == '@', c == '=', c == '%':
			return true
		}
		switch {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			mixed = mixed || lower
		}
		if c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' {
			hex++
		}
	}
	switch {
	case digits == len(s), mixed:
		return true
	case digits > 0 && len(s) >= 8:
		return true
	case hex == len(s) && len(s) >= 16:
		return true
	}
	return false
}

// DefaultMaxRoutes is the bound of a [Routes] whose Max is zero.
const DefaultMaxRoutes = 100

// Routes templates the paths of one host, whatever its API: Camunda's
// routes come from the fixed table, any other path gets a generic template
// with its ID-like segments as {id}, such as /api/orders/{id}. Every
// template the table hands out counts against its bound, Max distinct
// templates, beyond which a path reads [Other]; so the templates of a host,
// and the metric series labelled with them, stay bounded whatever paths it
// is sent. Its zero value is ready to use. A Routes is safe for concurrent
// use; a template seen before costs one map lookup under a read lock and no
// allocation.
type Routes struct {
	// Max bounds the distinct templates; 0 means DefaultMaxRoutes.
	Max int

	mu   sync.RWMutex
	seen map[string]string // template -> itself, interned
}

// Of returns the route of path.
func (rs *Routes) Of(path string) Route {
	var buf [maxPath]byte
	r, n := lookup(path, &buf)
	switch {
	case r.Template != "":
		// A Camunda template: a constant, but it counts like the others.
		buf := r.Template
		rs.mu.RLock()
		_, ok := rs.seen[buf]
		rs.mu.RUnlock()
		if !ok && rs.intern(buf) == Other {
			r.Template = Other
		}
		return r
	case n < 0:
		r.Template = Other
		return r
	}
	rs.mu.RLock()
	t, ok := rs.seen[string(buf[:n])]
	rs.mu.RUnlock()
	if ok {
		r.Template = t
		return r
	}
	r.Template = rs.intern(string(buf[:n]))
	return r
}

func (rs *Routes) intern(t string) string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if s, ok := rs.seen[t]; ok {
		return s
	}
	limit := rs.Max
	if limit <= 0 {
		limit = DefaultMaxRoutes
	}
	if len(rs.seen) >= limit {
		return Other
	}
	if rs.seen == nil {
		rs.seen = make(map[string]string)
	}
	rs.seen[t] = t
	return t
}

// Len returns the number of distinct templates handed out, Other aside.
func (rs *Routes) Len() int {
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	return len(rs.seen)
}

// SafeToRepeat reports whether req may be sent again after an answer that
// leaves its outcome unknown (a 502, 503 or 504, a reset): its method is
// idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE), it carries an
// Idempotency-Key or X-Idempotency-Key header, or its route is on Camunda's
// safe list ([Route.Safe]).
func SafeToRepeat(req *http.Request) bool {
	return SafeByRequest(req) || req.URL != nil && RouteOf(req.URL.Path).Safe()
}

// SafeByRequest is the part of [SafeToRepeat] that needs no route: the
// method is idempotent or an idempotency key is set. A caller that has the
// route at hand completes it with [Route.Safe].
func SafeByRequest(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	if _, ok := req.Header["Idempotency-Key"]; ok {
		return true
	}
	_, ok := req.Header["X-Idempotency-Key"]
	return ok
}

// Drains reports whether req is a drain operation: one that removes load
// from the cluster (job completion, failure and error, user-task
// completion), which no layer of ebb holds back. It is the one place that
// decides it; a suffix test spares every other request the route lookup.
func Drains(req *http.Request) bool {
	p := trimmedPath(req)
	if !strings.HasSuffix(p, "/completion") && !strings.HasSuffix(p, "/failure") && !strings.HasSuffix(p, "/error") {
		return false
	}
	return RouteOf(p).Drain()
}

// Activation reports whether req is a job activation, which Camunda's
// gateway serves as a long poll (see [LongPoll]). It is the one place that
// decides it; a suffix test spares every other request the route lookup.
func Activation(req *http.Request) bool {
	if req.Method != http.MethodPost {
		return false
	}
	p := trimmedPath(req)
	return strings.HasSuffix(p, "/jobs/activation") && RouteOf(p).Template == "/v2/jobs/activation"
}

// trimmedPath returns req's path without trailing slashes, "" without a
// URL.
func trimmedPath(req *http.Request) string {
	if req.URL == nil {
		return ""
	}
	p := req.URL.Path
	for len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}

// Admit counts a template the caller already has (from [RouteOf]) against
// the bound, and returns it, or [Other] beyond the bound.
func (rs *Routes) Admit(template string) string {
	rs.mu.RLock()
	t, ok := rs.seen[template]
	rs.mu.RUnlock()
	if ok {
		return t
	}
	if template == Other {
		return Other
	}
	return rs.intern(template)
}
