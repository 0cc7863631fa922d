package camundatest

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Option configures a Gateway. Options are checked when the gateway is
// built: a bad value makes [New] fail, and [NewGateway] panic, with an error
// that names the option.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// config is everything an Option can set; the run-time settings among them
// (capacity, faults, Retry-After) seed the gateway's mutable state.
type config struct {
	version         Version
	exceptionTitle  bool
	contextPath     string
	addr            string
	capacity        Capacity
	faults          Faults
	retryAfter      time.Duration
	seed            uint64
	processes       map[string]string
	defaultJobType  string
	jobRetries      int
	longPollTimeout time.Duration
	hashBodies      bool
	maxBodySize     int64
	tenantID        string
}

// The defaults, documented in the package doc.
const (
	// DefaultLongPollTimeout is how long job activation waits for jobs when
	// the request names no requestTimeout, as the real gateway's default.
	DefaultLongPollTimeout = 10 * time.Second
	// DefaultJobRetries is the retries a new job starts with.
	DefaultJobRetries = 3
	// DefaultAddr is where Start listens unless WithAddr says otherwise: a
	// free loopback port.
	DefaultAddr = "127.0.0.1:0"
	// MaxBodySize bounds the request body kept in memory (the whole body is
	// still read and hashed); a larger body is answered 413. It matches
	// Zeebe's default maximum message size of 4 MB.
	MaxBodySize = 4 << 20
	// DefaultTenantID is the tenant of every process instance that names
	// none, as in a cluster without multi-tenancy.
	DefaultTenantID = "<default>"
)

func defaultConfig() config {
	return config{
		version:         V883,
		addr:            DefaultAddr,
		seed:            1,
		jobRetries:      DefaultJobRetries,
		longPollTimeout: DefaultLongPollTimeout,
		maxBodySize:     MaxBodySize,
		tenantID:        DefaultTenantID,
	}
}

// WithVersion selects the release the gateway imitates: the shape of its
// answers, the requests it accepts and its backpressure answers (see
// [Version]); the default is V883.
func WithVersion(v Version) Option {
	return optionFunc(func(c *config) error {
		if !v.known() {
			return fmt.Errorf("camundatest: WithVersion: unknown version %d", int(v))
		}
		c.version = v
		return nil
	})
}

// WithExceptionTitle makes V86 and V87 backpressure answers carry the title
// io.camunda.zeebe.broker.client.api.RequestRetriesExhaustedException and
// that exception's message as detail, as some 8.6 and 8.7 gateways answer
// when every partition refused, instead of the title RESOURCE_EXHAUSTED. The
// status stays 429. Other versions ignore it.
func WithExceptionTitle() Option {
	return optionFunc(func(c *config) error {
		c.exceptionTitle = true
		return nil
	})
}

// WithContextPath serves the API under a context path such as /zeebe, so
// that job activation is POST /zeebe/v2/jobs/activation; requests outside it
// are answered 404. The default is none.
func WithContextPath(p string) Option {
	return optionFunc(func(c *config) error {
		p = strings.TrimRight(p, "/")
		if p != "" && (!strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#") || strings.Contains(p, "/v2/") || strings.HasSuffix(p, "/v2")) {
			return fmt.Errorf("camundatest: WithContextPath: %q must start with / and hold no query, fragment or /v2 segment", p)
		}
		c.contextPath = p
		return nil
	})
}

// WithAddr sets the TCP address Start listens on, such as 127.0.0.1:8080;
// the default, DefaultAddr, is a free loopback port.
func WithAddr(addr string) Option {
	return optionFunc(func(c *config) error {
		if addr == "" {
			return fmt.Errorf("camundatest: WithAddr: empty address")
		}
		c.addr = addr
		return nil
	})
}

// WithCapacity sets the gateway's capacity; see [Capacity]. The default, the
// zero Capacity, never refuses a request.
func WithCapacity(cp Capacity) Option {
	return optionFunc(func(c *config) error {
		if err := cp.check("WithCapacity"); err != nil {
			return err
		}
		c.capacity = cp
		return nil
	})
}

// WithFaults sets the faults the gateway injects from the start; see
// [Faults]. The default is none.
func WithFaults(f Faults) Option {
	return optionFunc(func(c *config) error {
		if err := f.check("WithFaults"); err != nil {
			return err
		}
		c.faults = f
		return nil
	})
}

// WithRetryAfter makes every refusal the gateway makes — backpressure, out
// of disk, injected faults — carry a Retry-After header of d, rounded up to
// whole seconds. The real gateway sends none, which is the default (0).
func WithRetryAfter(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return fmt.Errorf("camundatest: WithRetryAfter: negative duration %v", d)
		}
		c.retryAfter = d
		return nil
	})
}

// WithSeed seeds the random source that decides which requests get an
// injected fault, so a run can be repeated exactly. The default seed is 1.
func WithSeed(seed uint64) Option {
	return optionFunc(func(c *config) error {
		c.seed = seed
		return nil
	})
}

// WithProcess declares that instances of the process processDefinitionID
// produce jobs of type jobType. It may be given many times.
func WithProcess(processDefinitionID, jobType string) Option {
	return optionFunc(func(c *config) error {
		if processDefinitionID == "" || jobType == "" {
			return fmt.Errorf("camundatest: WithProcess(%q, %q): empty process ID or job type", processDefinitionID, jobType)
		}
		if c.processes == nil {
			c.processes = make(map[string]string)
		}
		c.processes[processDefinitionID] = jobType
		return nil
	})
}

// WithDefaultJobType sets the job type of processes not declared with
// WithProcess. By default such a process's job type is its process
// definition ID.
func WithDefaultJobType(jobType string) Option {
	return optionFunc(func(c *config) error {
		c.defaultJobType = jobType
		return nil
	})
}

// WithJobRetries sets the retries every new job starts with; the default is
// DefaultJobRetries.
func WithJobRetries(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("camundatest: WithJobRetries: %d, want at least 1", n)
		}
		c.jobRetries = n
		return nil
	})
}

// WithLongPollTimeout sets how long job activation waits for jobs when the
// request's requestTimeout is 0 or absent; the default is
// DefaultLongPollTimeout.
func WithLongPollTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("camundatest: WithLongPollTimeout: %v, want a positive duration", d)
		}
		c.longPollTimeout = d
		return nil
	})
}

// WithBodyHashes makes the gateway keep the SHA-256 of every request body it
// receives, per route, for [Gateway.BodyHashes]. Off by default, since the
// hashes are kept for the gateway's life.
func WithBodyHashes() Option {
	return optionFunc(func(c *config) error {
		c.hashBodies = true
		return nil
	})
}

// Capacity is how much work the gateway takes on: Slots requests in service
// at once, and at most Rate new requests a second. A request beyond either is
// refused at once with the backpressure answer of the gateway's Version;
// nothing waits in a queue. Each accepted request is served for ServiceTime,
// holding its slot, so the gateway's throughput is about
// Slots / ServiceTime.
//
// Capacity binds the requests that add work to the cluster. Job completion,
// failure and error are never refused for capacity and take no slot, as the
// real broker always accepts them; the topology is answered by the gateway
// itself and is never refused either. A job activation holds its slot while
// it is served, not while it waits for jobs.
//
// The zero Capacity never refuses anything and serves at once.
type Capacity struct {
	// Slots is the most requests in service at once; 0 means no bound.
	Slots int
	// Rate is the most requests accepted per second on average, a token
	// bucket refilled continuously; 0 means no bound.
	Rate float64
	// Burst is the bucket's size, the most requests accepted at once after a
	// quiet spell; 0 means a tenth of a second's worth, at least 1. It is
	// ignored when Rate is 0.
	Burst int
	// ServiceTime is how long each accepted request is served before its
	// answer; 0 means no delay.
	ServiceTime time.Duration
}

func (c Capacity) check(where string) error {
	switch {
	case c.Slots < 0:
		return fmt.Errorf("camundatest: %s: Capacity.Slots is %d, want 0 or more", where, c.Slots)
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("camundatest: %s: Capacity.Rate is %v, want a finite rate, 0 or more", where, c.Rate)
	case c.Burst < 0:
		return fmt.Errorf("camundatest: %s: Capacity.Burst is %d, want 0 or more", where, c.Burst)
	case c.ServiceTime < 0:
		return fmt.Errorf("camundatest: %s: Capacity.ServiceTime is %v, want 0 or more", where, c.ServiceTime)
	}
	return nil
}

// burst is the bucket size in force.
func (c Capacity) burst() float64 {
	if c.Burst > 0 {
		return float64(c.Burst)
	}
	return math.Max(1, math.Ceil(c.Rate/10))
}

// Faults are failures the gateway injects on purpose. The shares are
// probabilities drawn per request from the gateway's seeded random source
// (see WithSeed); they must each lie in [0, 1] and add up to at most 1.
type Faults struct {
	// Unavailable is the share of requests answered 503 titled UNAVAILABLE,
	// as when a partition has no leader.
	Unavailable float64
	// Aborted is the share answered 502 titled ABORTED.
	Aborted float64
	// DeadlineExceeded is the share answered 504 titled DEADLINE_EXCEEDED,
	// as when the broker does not answer the gateway in time.
	DeadlineExceeded float64
	// AfterProcessing makes a request picked for a fault be carried out
	// first, the fault replacing its answer, as when the gateway loses the
	// broker's answer: a job completion answered 504 has still completed
	// the job. By default a faulted request is not carried out.
	AfterProcessing bool
	// Routes limits the shares to requests on these route templates, such
	// as /v2/jobs/{jobKey}/completion (see [Routes]); nil means every
	// route. A template the gateway does not serve is an error.
	Routes []string
	// Latency delays every answer, whatever it is, by this much.
	Latency time.Duration
}

func (f Faults) check(where string) error {
	for _, s := range []struct {
		name string
		p    float64
	}{{"Unavailable", f.Unavailable}, {"Aborted", f.Aborted}, {"DeadlineExceeded", f.DeadlineExceeded}} {
		if !(s.p >= 0 && s.p <= 1) {
			return fmt.Errorf("camundatest: %s: Faults.%s is %v, want a share in [0, 1]", where, s.name, s.p)
		}
	}
	if sum := f.Unavailable + f.Aborted + f.DeadlineExceeded; sum > 1+1e-9 {
		return fmt.Errorf("camundatest: %s: Faults shares add up to %v, want at most 1", where, sum)
	}
	if f.Latency < 0 {
		return fmt.Errorf("camundatest: %s: Faults.Latency is %v, want 0 or more", where, f.Latency)
	}
	for _, r := range f.Routes {
		if err := checkRoute(where+": Faults.Routes", r); err != nil {
			return err
		}
	}
	return nil
}

// hasShares reports whether a share is set.
func (f Faults) hasShares() bool {
	return f.Unavailable > 0 || f.Aborted > 0 || f.DeadlineExceeded > 0
}
