package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// key is a Camunda key (jobKey, processInstanceKey, ...) as the decimal text
// of its int64. Camunda 8.8 and later write keys as JSON strings; 8.6 and 8.7
// write them as JSON numbers in application/json, and as strings only when
// the request's Accept asks for application/vnd.camunda.api.keys.string+json.
// A key accepts both, and never reads a number through a float64, which
// would round keys above 2^53.
type key string

// UnmarshalJSON reads a key written as a JSON string or a JSON number.
func (k *key) UnmarshalJSON(b []byte) error {
	text := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &text); err != nil {
			return err
		}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("key %s: want a positive int64, as a JSON number or string", b)
	}
	*k = key(strconv.FormatInt(n, 10))
	return nil
}

// api sends the demo's requests to one cluster. Every request carries a
// deadline: the transport retries within it, and never waits past it.
type api struct {
	client *http.Client
	base   string // REST address, without a trailing slash or /v2
	// deadline bounds each request, its retries and its waits for the
	// limiter included; a long poll gets its requestTimeout on top.
	deadline time.Duration
}

// statusError is an answer other than the one expected.
type statusError struct {
	status int
	title  string // the problem detail's title, if the body was one
	body   string // the start of the body
}

func (e *statusError) Error() string {
	return fmt.Sprintf("answered %d %s: %s", e.status, http.StatusText(e.status), e.body)
}

// decodeError is an answer with the expected status that the demo could
// not read.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return "decoding the answer: " + e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// call sends body (nil: none) to path with method, within a.deadline plus
// extra, and decodes the answer into out (when not nil), failing unless the
// status is want. Its errors name the method and path.
func (a *api) call(ctx context.Context, method, path string, body any, want int, out any, extra time.Duration) error {
	err := a.do(ctx, method, path, body, want, out, extra)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

func (a *api) do(ctx context.Context, method, path string, body any, want int, out any, extra time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, a.deadline+extra)
	defer cancel()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		// The url.Error around it repeats the address the summary names.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			return ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		se := &statusError{status: resp.StatusCode, body: strings.TrimSpace(string(data))}
		var problem struct {
			Title string `json:"title"`
		}
		if json.Unmarshal(data, &problem) == nil {
			se.title = problem.Title
		}
		return se
	}
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return &decodeError{err}
	}
	return nil
}
