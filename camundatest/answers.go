package camundatest

import (
	"bytes"
	"encoding/json"
	"mime"
	"strconv"
	"strings"
)

// object is a JSON object whose members keep the order they were added in,
// so that answers read like the gateway's and optional members are simply
// left out.
type object []member

type member struct {
	name  string
	value any
}

func (o object) with(name string, value any) object { return append(o, member{name, value}) }

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		name, err := json.Marshal(m.name)
		if err != nil {
			return nil, err
		}
		value, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(name)
		b.WriteByte(':')
		b.Write(value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// keyStyle is how one answer writes keys, and the media type it is sent in.
type keyStyle struct {
	strings bool
	ctype   string
}

// key writes k as the style says: a JSON string, or an int64 number.
func (s keyStyle) key(k int64) any {
	if s.strings {
		return strconv.FormatInt(k, 10)
	}
	return k
}

// negotiate picks how an answer writes keys from the request's Accept: the
// string-keys media type, when it is acceptable, gives strings in that type;
// otherwise 8.6 and 8.7 write numbers (in the number-keys type if that was
// asked for, else application/json) and later releases strings in
// application/json.
func negotiate(v Version, accept string) keyStyle {
	var wantString, wantNumber bool
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch mt {
		case mediaKeysString:
			wantString = true
		case mediaKeysNumber:
			wantNumber = true
		}
	}
	switch {
	case wantString:
		return keyStyle{strings: true, ctype: mediaKeysString}
	case !v.numberKeys():
		return keyStyle{strings: true, ctype: mediaJSON}
	case wantNumber:
		return keyStyle{ctype: mediaKeysNumber}
	}
	return keyStyle{ctype: mediaJSON}
}

// clusterID is the emulated cluster's ID, which the topology reports from
// 8.9 on; real clusters report a UUID.
const clusterID = "c4e3b7a0-5e1d-4f6b-9a2c-0d8e7f6a5b41"

// topologyAnswer describes the emulated cluster, one broker leading one
// partition, with the members v's spec requires.
func topologyAnswer(v Version, outOfDisk bool) object {
	health := "healthy"
	if outOfDisk {
		health = "unhealthy"
	}
	gv := v.gatewayVersion()
	partition := object{}.
		with("partitionId", 1).
		with("role", "leader").
		with("health", health)
	if v.atLeast(V810) {
		partition = partition.with("state", "active")
	}
	broker := object{}.with("nodeId", 0)
	if v.atLeast(V810) {
		broker = broker.with("brokerId", "0")
	}
	broker = broker.
		with("host", "127.0.0.1").
		with("port", 26501).
		with("partitions", []object{partition}).
		with("version", gv)
	topo := object{}.with("brokers", []object{broker})
	if v.atLeast(V89) {
		topo = topo.with("clusterId", clusterID)
	}
	topo = topo.
		with("clusterSize", 1).
		with("partitionsCount", 1).
		with("replicationFactor", 1).
		with("gatewayVersion", gv)
	if v.atLeast(V880) {
		topo = topo.with("lastCompletedChangeId", "-1")
	}
	return topo
}

// createdAnswer is the answer to a process instance creation.
func createdAnswer(v Version, ks keyStyle, d *definition, inst *instance) object {
	o := object{}.
		with("processDefinitionId", d.id).
		with("processDefinitionKey", ks.key(d.key)).
		with("processDefinitionVersion", d.version).
		with("processInstanceKey", ks.key(inst.key)).
		with("tenantId", inst.tenantID).
		with("variables", map[string]any{})
	if v.atLeast(V880) {
		o = o.with("tags", nonNil(inst.tags))
	}
	if v.atLeast(V89) {
		o = o.with("businessId", inst.businessID)
	}
	return o
}

// jobAnswer is one activated job, with the members v's spec requires.
func jobAnswer(v Version, ks keyStyle, j jobView) object {
	o := object{}.
		with("jobKey", ks.key(j.key)).
		with("type", j.typ).
		with("processInstanceKey", ks.key(j.instanceKey)).
		with("processDefinitionId", j.defID).
		with("processDefinitionVersion", j.defVersion).
		with("processDefinitionKey", ks.key(j.defKey)).
		with("elementId", elementID).
		with("elementInstanceKey", ks.key(j.elementInstanceKey)).
		with("customHeaders", map[string]string{}).
		with("worker", j.worker).
		with("retries", j.retries).
		with("deadline", j.deadline).
		with("variables", j.vars).
		with("tenantId", j.tenantID)
	if v.atLeast(V880) {
		o = o.with("kind", "BPMN_ELEMENT").with("listenerEventType", "UNSPECIFIED")
	}
	if v.atLeast(V89) {
		o = o.with("tags", nonNil(j.tags)).
			with("userTask", nil).
			with("rootProcessInstanceKey", ks.key(j.instanceKey))
	}
	if v.atLeast(V810) {
		o = o.with("businessId", j.businessID).
			with("leaseToken", j.leaseToken).
			with("physicalTenantId", physicalTenantID).
			with("priority", 0)
	}
	return o
}

// physicalTenantID is the physical tenant every emulated job activation is
// routed to: the default one, as when the request names none.
const physicalTenantID = "default"

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
