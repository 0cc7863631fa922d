package camundatest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ebb-go/ebb/verdict"
)

// The media types of the API. 8.6 and 8.7 also take and give the two
// vendor types, which say whether keys are numbers or strings; from 8.8 on
// keys are always strings, and the string type may still be asked for.
const (
	mediaJSON       = "application/json"
	mediaKeysString = "application/vnd.camunda.api.keys.string+json"
	mediaKeysNumber = "application/vnd.camunda.api.keys.number+json"
	mediaProblem    = "application/problem+json"
)

// checkContentType refuses a request body in a media type the route does
// not consume, as Spring does before reading it: 415 Unsupported Media
// Type. A request without a Content-Type is read as JSON, where Spring
// would refuse it; hand-built requests in tests often carry none.
func checkContentType(v Version, header string, instance string) *verdict.Problem {
	if header == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(header)
	if err == nil {
		switch mt {
		case mediaJSON:
			return nil
		case mediaKeysString, mediaKeysNumber:
			if v.numberKeys() {
				return nil
			}
		}
	}
	return problem(http.StatusUnsupportedMediaType, "Unsupported Media Type",
		fmt.Sprintf("Content-Type '%s' is not supported.", header), instance)
}

// fieldKind is the JSON type a request field is bound to.
type fieldKind uint8

const (
	fString  fieldKind = iota
	fInt32             // int32; a string of digits is read as the number
	fInt64             // int64; likewise
	fBool              // true or false; the strings "true" and "false" too
	fObject            // a JSON object, such as variables
	fStrings           // an array of strings
	fObjects           // an array of objects
	fKey               // a key: a string of digits; in 8.6 and 8.7 a number too
)

// fieldSpec is one field of a request body, known from release since on.
type fieldSpec struct {
	name  string
	kind  fieldKind
	since Version
}

// requestFields lists the fields each operation's body may hold, from the
// request schemas of the OpenAPI specs (8.6, 8.7, 8.8, 8.9 and main).
var requestFields = map[op][]fieldSpec{
	opActivate: {
		{"type", fString, V86},
		{"worker", fString, V86},
		{"timeout", fInt64, V86},
		{"maxJobsToActivate", fInt32, V86},
		{"fetchVariable", fStrings, V86},
		{"requestTimeout", fInt64, V86},
		{"tenantIds", fStrings, V86},
		{"tenantFilter", fString, V89},
		{"withLease", fBool, V810},
	},
	opCreateInstance: {
		{"processDefinitionId", fString, V86},
		{"processDefinitionKey", fKey, V86},
		{"processDefinitionVersion", fInt32, V86},
		{"variables", fObject, V86},
		{"tenantId", fString, V86},
		{"operationReference", fInt64, V86},
		{"startInstructions", fObjects, V86},
		{"awaitCompletion", fBool, V86},
		{"fetchVariables", fStrings, V86},
		{"requestTimeout", fInt64, V86},
		{"runtimeInstructions", fObjects, V880},
		{"tags", fStrings, V880},
		{"businessId", fString, V89},
	},
	opComplete: {
		{"variables", fObject, V86},
		{"result", fObject, V880},
		{"leaseToken", fString, V810},
		{"businessId", fString, V810},
	},
	opFail: {
		{"retries", fInt32, V86},
		{"errorMessage", fString, V86},
		{"retryBackOff", fInt64, V86},
		{"variables", fObject, V86},
		{"leaseToken", fString, V810},
	},
	opThrowError: {
		{"errorCode", fString, V86},
		{"errorMessage", fString, V86},
		{"variables", fObject, V86},
		{"leaseToken", fString, V810},
	},
}

// bodyRequired reports whether the operation's request body is required.
func bodyRequired(o op) bool {
	return o == opActivate || o == opCreateInstance || o == opThrowError
}

// fields is a request body bound to its schema: each field present and not
// null, converted to string, int64, bool, map[string]json.RawMessage,
// []string or []json.RawMessage.
type fields map[string]any

func (f fields) str(name string) (string, bool) {
	s, ok := f[name].(string)
	return s, ok
}

func (f fields) int(name string) (int64, bool) {
	n, ok := f[name].(int64)
	return n, ok
}

func (f fields) vars(name string) map[string]json.RawMessage {
	m, _ := f[name].(map[string]json.RawMessage)
	return m
}

func (f fields) strs(name string) []string {
	s, _ := f[name].([]string)
	return s
}

// bind reads a request body as the gateway's JSON mapper does: a body that
// is not JSON is "Failed to read request"; a field of the wrong type, and
// from 8.8 on a field the schema does not know, is "Request property [name]
// cannot be parsed", the first one in the body's order.
func bind(v Version, o op, body []byte) (fields, *verdict.Problem) {
	out := fields{}
	if len(bytes.TrimSpace(body)) == 0 {
		if bodyRequired(o) {
			return nil, problem(http.StatusBadRequest, "Bad Request", "Required request body is missing", "")
		}
		return out, nil
	}
	if !json.Valid(body) {
		return nil, unreadable("")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, unreadable("")
	}
	specs := requestFields[o]
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, unreadable("")
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, unreadable("")
		}
		spec, ok := lookup(specs, name, v)
		if !ok {
			if v.strictBodies() {
				return nil, cannotParse(name)
			}
			continue
		}
		val, ok := convert(v, spec.kind, raw)
		if !ok {
			return nil, cannotParse(name)
		}
		if val == nil {
			delete(out, name)
			continue
		}
		out[name] = val
	}
	if _, err := dec.Token(); err != nil {
		return nil, unreadable("")
	}
	// One JSON value is one request; anything after it is refused.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, unreadable("")
	}
	return out, nil
}

func lookup(specs []fieldSpec, name string, v Version) (fieldSpec, bool) {
	for _, s := range specs {
		if s.name == name {
			return s, v.atLeast(s.since)
		}
	}
	return fieldSpec{}, false
}

// convert binds one JSON value to kind; a JSON null is (nil, true).
func convert(v Version, kind fieldKind, raw json.RawMessage) (any, bool) {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return nil, true
	}
	var x any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		return nil, false
	}
	switch kind {
	case fString:
		return scalarString(v, x)
	case fInt32:
		return integer(x, math.MinInt32, math.MaxInt32)
	case fInt64:
		return integer(x, math.MinInt64, math.MaxInt64)
	case fBool:
		switch b := x.(type) {
		case bool:
			return b, true
		case string:
			if b == "true" || b == "false" {
				return b == "true", true
			}
		}
		return nil, false
	case fObject:
		if _, ok := x.(map[string]any); !ok {
			return nil, false
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, false
		}
		return m, true
	case fStrings:
		items, ok := x.([]any)
		if !ok {
			return nil, false
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			s, ok := scalarString(v, it)
			if !ok || s == nil {
				return nil, false
			}
			out = append(out, s.(string))
		}
		return out, true
	case fObjects:
		items, ok := x.([]any)
		if !ok {
			return nil, false
		}
		for _, it := range items {
			if _, ok := it.(map[string]any); !ok {
				return nil, false
			}
		}
		var out []json.RawMessage
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, false
		}
		return out, true
	case fKey:
		switch k := x.(type) {
		case string:
			return k, true
		case json.Number:
			// 8.6 and 8.7 bind keys to int64; from 8.8 on they are
			// strings, and a number is not converted to one.
			if !v.numberKeys() {
				return nil, false
			}
			n, ok := integer(k, math.MinInt64, math.MaxInt64)
			if !ok {
				return nil, false
			}
			return strconv.FormatInt(n.(int64), 10), true
		}
	}
	return nil, false
}

// scalarString binds a value to a string field: a string; in 8.6 and 8.7 a
// number or boolean too, as its text.
func scalarString(v Version, x any) (any, bool) {
	switch s := x.(type) {
	case string:
		return s, true
	case json.Number:
		if !v.strictBodies() {
			return s.String(), true
		}
	case bool:
		if !v.strictBodies() {
			return strconv.FormatBool(s), true
		}
	}
	return nil, false
}

// integer binds a value to an integer field in [lo, hi]: a JSON number
// with no fraction, or a string holding one, as Jackson reads a string for
// a number field (Camunda's TypeScript client in strict mode sends int64
// fields as strings).
func integer(x any, lo, hi int64) (any, bool) {
	var text string
	switch n := x.(type) {
	case json.Number:
		text = n.String()
	case string:
		text = n
	default:
		return nil, false
	}
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		if n < lo || n > hi {
			return nil, false
		}
		return n, true
	}
	if _, isString := x.(string); isString {
		return nil, false
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return nil, false
	}
	return int64(f), true
}

// violations collects the gateway's validation messages for one request;
// they are answered together, joined as Camunda's RequestValidator joins
// them.
type violations []string

func (vs *violations) add(format string, args ...any) {
	*vs = append(*vs, fmt.Sprintf(format, args...))
}

func (vs violations) problem() *verdict.Problem {
	if len(vs) == 0 {
		return nil
	}
	return invalidArgument(strings.Join(vs, ". ")+".", "")
}

// parse checks a request's body and path as the gateway does before it
// sends anything to a broker, and returns the request.
func parse(v Version, o op, path, contextPath string, body []byte) (any, *verdict.Problem) {
	if o == opTopology {
		return nil, nil
	}
	f, bad := bind(v, o, body)
	if bad != nil {
		return nil, bad
	}
	var vs violations
	switch o {
	case opActivate:
		a := &activateRequest{worker: "", fetch: f.strs("fetchVariable")}
		a.Type, _ = f.str("type")
		a.worker, _ = f.str("worker")
		a.requestTimeout, _ = f.int("requestTimeout")
		a.withLease, _ = f["withLease"].(bool)
		timeout, hasTimeout := f.int("timeout")
		max, hasMax := f.int("maxJobsToActivate")
		if strings.TrimSpace(a.Type) == "" {
			vs.add("No type provided")
		}
		switch {
		case !hasTimeout:
			vs.add("No timeout provided")
		case timeout < 1:
			vs.add("The value for timeout is '%d' but must be greater than 0", timeout)
		}
		switch {
		case !hasMax:
			vs.add("No maxJobsToActivate provided")
		case max < 1:
			vs.add("The value for maxJobsToActivate is '%d' but must be greater than 0", max)
		}
		a.timeout, a.max = timeout, int(max)
		return a, vs.problem()
	case opCreateInstance:
		c := &createRequest{vars: f.vars("variables"), tags: f.strs("tags")}
		var hasID bool
		c.id, hasID = f.str("processDefinitionId")
		c.key, c.keySet = f.str("processDefinitionKey")
		if n, ok := f.int("processDefinitionVersion"); ok {
			c.version = &n
		}
		c.tenantID, _ = f.str("tenantId")
		if b, ok := f.str("businessId"); ok {
			c.businessID = &b
		}
		switch {
		case !hasID && !c.keySet:
			vs.add("At least one of [processDefinitionId, processDefinitionKey] is required")
		case hasID && c.keySet:
			vs.add("Only one of [processDefinitionId, processDefinitionKey] is allowed")
		case c.keySet:
			if _, err := strconv.ParseInt(c.key, 10, 64); err != nil {
				vs.add("The provided processDefinitionKey '%s' is not a valid key", c.key)
			}
		}
		if ref, ok := f.int("operationReference"); ok && ref < 1 {
			vs.add("The value for operationReference is '%d' but must be > 0", ref)
		}
		return c, vs.problem()
	}

	// The job commands: the key is in the path.
	rest := strings.TrimPrefix(strings.TrimPrefix(path, contextPath), "/v2/jobs/")
	raw, _, _ := strings.Cut(rest, "/")
	key, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		vs.add("The provided jobKey '%s' is not a valid key", raw)
		return nil, vs.problem()
	}
	c := &jobCommand{key: key, vars: f.vars("variables")}
	switch o {
	case opFail:
		retries, _ := f.int("retries")
		backoff, _ := f.int("retryBackOff")
		if backoff < 0 {
			vs.add("The value for retryBackOff is '%d' but must be 0 or greater", backoff)
		}
		c.retries, c.backoff = int(retries), time.Duration(backoff)*time.Millisecond
	case opThrowError:
		if code, _ := f.str("errorCode"); strings.TrimSpace(code) == "" {
			vs.add("No errorCode provided")
		}
	}
	return c, vs.problem()
}

// cannotParse is the gateway's answer to a field its JSON mapper cannot
// bind: of the wrong type or, from 8.8 on, unknown.
func cannotParse(name string) *verdict.Problem {
	return problem(http.StatusBadRequest, "Bad Request", fmt.Sprintf("Request property [%s] cannot be parsed", name), "")
}
