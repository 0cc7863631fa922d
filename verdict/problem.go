package verdict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Problem is an RFC 9457 problem detail, the error body of the Camunda 8 REST
// API and of many other HTTP APIs:
//
//	{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503,
//	 "detail":"Expected to handle request, but all retries have been exhausted",
//	 "instance":"/v2/process-instances"}
//
// Members beyond the five standard ones are kept in Extensions.
type Problem struct {
	// Type is a URI reference naming the problem type; "about:blank" when
	// the problem has no more meaning than its status.
	Type string
	// Title is a short summary of the problem type. Camunda puts the gRPC
	// status name here (RESOURCE_EXHAUSTED, UNAVAILABLE) or, in some
	// versions, a Java exception class name.
	Title string
	// Status is the HTTP status code the server meant; 0 when absent.
	Status int
	// Detail explains this occurrence of the problem.
	Detail string
	// Instance is a URI reference naming this occurrence.
	Instance string
	// Extensions holds every other member of the object, unparsed. It is nil
	// when there are none.
	Extensions map[string]json.RawMessage
}

// ErrNotProblem is returned by [ParseProblem] for input that is not a JSON
// object.
var ErrNotProblem = errors.New("verdict: not a problem detail object")

// ParseProblem parses an RFC 9457 problem detail object. As the RFC asks, a
// member whose value has the wrong type is ignored as if absent rather than
// failing the whole object. It fails only when data is not a JSON object.
func ParseProblem(data []byte) (Problem, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return Problem{}, ErrNotProblem
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return Problem{}, fmt.Errorf("%w: %v", ErrNotProblem, err)
	}
	p := Problem{
		Type:     rawString(all["type"]),
		Title:    rawString(all["title"]),
		Detail:   rawString(all["detail"]),
		Instance: rawString(all["instance"]),
	}
	if raw := all["status"]; len(raw) > 0 {
		var n int
		if json.Unmarshal(raw, &n) == nil {
			p.Status = n
		}
	}
	for _, k := range [...]string{"type", "title", "status", "detail", "instance"} {
		delete(all, k)
	}
	if len(all) > 0 {
		p.Extensions = all
	}
	return p, nil
}

func rawString(raw json.RawMessage) string {
	if len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// MarshalJSON encodes the problem as one JSON object: the standard members
// that are set, then the extension members. An extension named like a
// standard member is dropped.
func (p Problem) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, 5+len(p.Extensions))
	for k, v := range p.Extensions {
		m[k] = v
	}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		} else {
			delete(m, k)
		}
	}
	set("type", p.Type)
	set("title", p.Title)
	set("detail", p.Detail)
	set("instance", p.Instance)
	if p.Status != 0 {
		m["status"] = p.Status
	} else {
		delete(m, "status")
	}
	return json.Marshal(m)
}

// UnmarshalJSON decodes a problem detail as [ParseProblem] does.
func (p *Problem) UnmarshalJSON(data []byte) error {
	q, err := ParseProblem(data)
	if err != nil {
		return err
	}
	*p = q
	return nil
}
