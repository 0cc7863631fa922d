package camundatest

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// firstKey is the first key Zeebe hands out on partition 1: the partition ID
// sits in the bits above 51.
const firstKey int64 = 1<<51 + 1

// engine is the emulated cluster's state: deployed definitions, process
// instances and their jobs. It does no locking; the Gateway's mu guards it.
// Time is passed in, so every decision is a pure function of the state and
// the instant.
type engine struct {
	nextKey   int64
	defs      map[string]*definition
	defsByKey map[int64]*definition
	jobs      map[int64]*job
	// queues holds the jobs of each type in creation order, the order in
	// which they are activated. Finished jobs are dropped lazily.
	queues map[string][]*job
	// avail is closed, and replaced, whenever the jobs of a type may have
	// become activatable or their next deadline moved, to wake long polls.
	avail  map[string]chan struct{}
	counts counters

	processes      map[string]string
	defaultJobType string
	jobRetries     int
}

type counters struct {
	instances, created, activated, completed, failed, errored, incidents int64
}

type definition struct {
	id      string
	key     int64
	version int
	jobType string
}

type instance struct {
	key        int64
	def        *definition
	tenantID   string
	vars       map[string]json.RawMessage
	tags       []string
	businessID *string
}

type jobState uint8

const (
	activatable jobState = iota
	activated            // locked until until
	backingOff           // failed with retries left; activatable at until
	incident             // failed with no retries left
)

// name is the state as the broker names it in rejections.
func (s jobState) name() string {
	switch s {
	case activatable:
		return "ACTIVATABLE"
	case activated:
		return "ACTIVATED"
	}
	return "FAILED"
}

type job struct {
	key                int64
	elementInstanceKey int64
	inst               *instance
	typ                string
	retries            int
	state              jobState
	until              time.Time
	worker             string
	leaseToken         *string // the current activation's lease, if it asked for one
	gone               bool    // completed or errored: no longer in the jobs map
}

// stateAt is the job's state at now: a lock that lapsed or a back-off that
// ended leaves the job activatable, as the broker's timeout checker would.
func (j *job) stateAt(now time.Time) jobState {
	if (j.state == activated || j.state == backingOff) && !now.Before(j.until) {
		return activatable
	}
	return j.state
}

func newEngine(c *config) *engine {
	return &engine{
		nextKey:        firstKey,
		defs:           make(map[string]*definition),
		defsByKey:      make(map[int64]*definition),
		jobs:           make(map[int64]*job),
		queues:         make(map[string][]*job),
		avail:          make(map[string]chan struct{}),
		processes:      c.processes,
		defaultJobType: c.defaultJobType,
		jobRetries:     c.jobRetries,
	}
}

func (e *engine) key() int64 {
	k := e.nextKey
	e.nextKey++
	return k
}

// definition returns the process definition with the given ID, deploying it
// on first use: the emulated cluster knows every process.
func (e *engine) definition(id string) *definition {
	if d := e.defs[id]; d != nil {
		return d
	}
	typ := e.processes[id]
	if typ == "" {
		typ = e.defaultJobType
	}
	if typ == "" {
		typ = id
	}
	d := &definition{id: id, key: e.key(), version: 1, jobType: typ}
	e.defs[id] = d
	e.defsByKey[d.key] = d
	return d
}

// create starts an instance of d, which at once waits on one job.
func (e *engine) create(d *definition, tenantID string, vars map[string]json.RawMessage, tags []string, businessID *string) (*instance, *job) {
	if vars == nil {
		vars = map[string]json.RawMessage{}
	}
	inst := &instance{key: e.key(), def: d, tenantID: tenantID, vars: vars, tags: tags, businessID: businessID}
	j := &job{elementInstanceKey: e.key(), inst: inst, typ: d.jobType, retries: e.jobRetries}
	j.key = e.key()
	e.jobs[j.key] = j
	e.queues[j.typ] = append(e.queues[j.typ], j)
	e.counts.instances++
	e.counts.created++
	e.notify(j.typ)
	return inst, j
}

// waitChan returns the channel closed at the next change for jobType.
func (e *engine) waitChan(jobType string) <-chan struct{} {
	ch := e.avail[jobType]
	if ch == nil {
		ch = make(chan struct{})
		e.avail[jobType] = ch
	}
	return ch
}

func (e *engine) notify(jobType string) {
	if ch := e.avail[jobType]; ch != nil {
		close(ch)
		delete(e.avail, jobType)
	}
}

// jobView is one activated job, as the answer to its activation shows it;
// answers.go writes it in the shape of the gateway's version.
type jobView struct {
	key, instanceKey, defKey, elementInstanceKey int64
	typ, defID                                   string
	defVersion                                   int
	worker                                       string
	retries                                      int
	deadline                                     int64
	vars                                         map[string]json.RawMessage
	tenantID                                     string
	tags                                         []string
	businessID                                   *string
	leaseToken                                   *string
}

// elementID is the ID of the one service task every emulated process has.
const elementID = "service-task"

// activate locks up to max activatable jobs of jobType until now+timeout for
// worker, each under a lease of its own if withLease. It also returns the
// earliest instant at which another job of that type becomes activatable by
// itself (a lock lapsing, a back-off ending), or the zero time if none will.
func (e *engine) activate(jobType string, max int, timeout time.Duration, worker string, fetch []string, withLease bool, now time.Time) ([]jobView, time.Time) {
	var (
		out  []jobView
		next time.Time
		q    = e.queues[jobType]
		keep = q[:0]
	)
	for _, j := range q {
		if j.gone || j.state == incident {
			continue
		}
		keep = append(keep, j)
		if j.stateAt(now) != activatable || len(out) >= max {
			if s := j.stateAt(now); s == activated || s == backingOff {
				if next.IsZero() || j.until.Before(next) {
					next = j.until
				}
			}
			continue
		}
		j.state, j.until, j.worker, j.leaseToken = activated, now.Add(timeout), worker, nil
		e.counts.activated++
		if withLease {
			token := fmt.Sprintf("lease-%d-%d", j.key, e.counts.activated)
			j.leaseToken = &token
		}
		out = append(out, e.view(j, fetch))
		if next.IsZero() || j.until.Before(next) {
			next = j.until
		}
	}
	clear(q[len(keep):])
	e.queues[jobType] = keep
	if len(keep) == 0 {
		delete(e.queues, jobType)
	}
	if len(out) > 0 {
		// Other long polls of this type may now have an earlier wake-up:
		// the lock just taken lapses before their own deadline.
		e.notify(jobType)
	}
	return out, next
}

func (e *engine) view(j *job, fetch []string) jobView {
	vars := j.inst.vars
	if len(fetch) > 0 {
		vars = make(map[string]json.RawMessage, len(fetch))
		for _, name := range fetch {
			if v, ok := j.inst.vars[name]; ok {
				vars[name] = v
			}
		}
	} else {
		vars = maps.Clone(vars)
	}
	d := j.inst.def
	return jobView{
		key:                j.key,
		instanceKey:        j.inst.key,
		defKey:             d.key,
		elementInstanceKey: j.elementInstanceKey,
		typ:                j.typ,
		defID:              d.id,
		defVersion:         d.version,
		worker:             j.worker,
		retries:            j.retries,
		deadline:           j.until.UnixMilli(),
		vars:               vars,
		tenantID:           j.inst.tenantID,
		tags:               j.inst.tags,
		businessID:         j.inst.businessID,
		leaseToken:         j.leaseToken,
	}
}

// refusal is a broker rejection of a job command: its code and reason.
type refusal struct{ code, reason string }

// usable finds the job a command names and checks the broker's precondition
// for completing, failing or throwing an error for it: it exists and is
// activatable or activated.
func (e *engine) usable(key int64, verb string, now time.Time) (*job, *refusal) {
	j := e.jobs[key]
	if j == nil {
		return nil, &refusal{"NOT_FOUND", fmt.Sprintf("Expected to %s job with key '%d', but no such job was found", verb, key)}
	}
	if s := j.stateAt(now); s != activatable && s != activated {
		return nil, &refusal{"INVALID_STATE", fmt.Sprintf("Expected to %s job with key '%d', but it is in state '%s'", verb, key, s.name())}
	}
	return j, nil
}

func (e *engine) finish(j *job) {
	j.gone = true
	delete(e.jobs, j.key)
}

func (e *engine) complete(key int64, vars map[string]json.RawMessage, now time.Time) *refusal {
	j, r := e.usable(key, "complete", now)
	if r != nil {
		return r
	}
	maps.Copy(j.inst.vars, vars)
	e.finish(j)
	e.counts.completed++
	return nil
}

func (e *engine) fail(key int64, retries int, backoff time.Duration, vars map[string]json.RawMessage, now time.Time) *refusal {
	j, r := e.usable(key, "fail", now)
	if r != nil {
		return r
	}
	maps.Copy(j.inst.vars, vars)
	e.counts.failed++
	j.retries, j.worker = retries, ""
	switch {
	case retries <= 0:
		j.retries = 0
		j.state = incident
		e.counts.incidents++
	case backoff > 0:
		j.state, j.until = backingOff, now.Add(backoff)
	default:
		j.state = activatable
	}
	e.notify(j.typ)
	return nil
}

// throwError assumes, as the emulated processes have no model, that a
// boundary event catches every BPMN error: the job ends there.
func (e *engine) throwError(key int64, vars map[string]json.RawMessage, now time.Time) *refusal {
	j, r := e.usable(key, "throw an error for", now)
	if r != nil {
		return r
	}
	maps.Copy(j.inst.vars, vars)
	e.finish(j)
	e.counts.errored++
	return nil
}

// open counts the jobs still waiting for a worker's answer: neither
// completed, nor errored, nor in an incident.
func (e *engine) open() int {
	n := 0
	for _, j := range e.jobs {
		if j.state != incident {
			n++
		}
	}
	return n
}
