package camundatest

import (
	"fmt"
	"strconv"
	"strings"
)

// Version selects the Camunda 8 release the gateway imitates: the fields of
// its answers and how keys are written in them, the request bodies it
// accepts, and how it answers backpressure. The package doc lists, for each
// behaviour, the release and the source it follows.
type Version int

// The releases emulated. Their values are stable but not ordered by release.
const (
	// V86 is Camunda 8.6: keys written as JSON numbers (int64) unless the
	// request's Accept asks for application/vnd.camunda.api.keys.string+json;
	// unknown request fields ignored; backpressure answered 429.
	V86 Version = iota + 1
	// V880 is Camunda 8.8.0 to 8.8.2: the 8.8 API (keys as strings, unknown
	// request fields refused), with backpressure answered 503
	// RESOURCE_EXHAUSTED for commands and 500 java.lang.RuntimeException,
	// RESOURCE_EXHAUSTED in its detail, for job activation.
	V880
	// V883 is Camunda 8.8.3 and later 8.8 patches: the 8.8 API, with all
	// backpressure answered 503 RESOURCE_EXHAUSTED. It is the default.
	V883
	// V87 is Camunda 8.7, whose routes emulated here answer as 8.6's do.
	V87
	// V89 is Camunda 8.9: the 8.8 API plus the fields the 8.9 spec requires
	// (clusterId in the topology; businessId and tags on created instances;
	// tags, userTask and rootProcessInstanceKey on activated jobs).
	V89
	// V810 is the current development line (Camunda's main branch, 8.10 at
	// the time of writing): 8.9 plus brokerId and partition state in the
	// topology, and businessId, leaseToken, physicalTenantId and priority on
	// activated jobs.
	V810
)

// versions lists the releases in release order; rank is the index.
var versions = [...]Version{V86, V87, V880, V883, V89, V810}

// rank orders the releases: a later release has a higher rank. It is -1 for
// an unknown Version.
func (v Version) rank() int {
	for i, w := range versions {
		if w == v {
			return i
		}
	}
	return -1
}

func (v Version) known() bool { return v.rank() >= 0 }

// atLeast reports whether v is release w or later.
func (v Version) atLeast(w Version) bool { return v.rank() >= w.rank() }

// String returns the release the version stands for: "8.6", "8.7",
// "8.8.0", "8.8.3", "8.9" or "8.10".
func (v Version) String() string {
	switch v {
	case V86:
		return "8.6"
	case V87:
		return "8.7"
	case V880:
		return "8.8.0"
	case V883:
		return "8.8.3"
	case V89:
		return "8.9"
	case V810:
		return "8.10"
	}
	return "Version(" + strconv.Itoa(int(v)) + ")"
}

// gatewayVersion is what the topology reports as the gateway's and the
// broker's version.
func (v Version) gatewayVersion() string {
	switch v {
	case V880, V883:
		return v.String()
	}
	return v.String() + ".0"
}

// numberKeys reports whether the release writes keys as JSON numbers by
// default: 8.6 and 8.7, whose application/json answers carry int64 keys.
func (v Version) numberKeys() bool { return !v.atLeast(V880) }

// strictBodies reports whether the release refuses unknown request fields
// and numbers or booleans where a string is expected, as the 8.8 gateway's
// JSON mapper does; 8.6 and 8.7 ignore the one and convert the other.
func (v Version) strictBodies() bool { return v.atLeast(V880) }

// newest is the newest release emulated, named in ParseVersion's errors.
const newest = V810

// ParseVersion maps a Camunda release such as "8.6", "8.7.4", "8.8.1",
// "8.9" or "8.10" to the Version that emulates it. A release without a
// patch number is taken at its latest patch, so "8.8" is V883. Releases
// before 8.6 had no REST job API, and releases after 8.10 are not known
// yet: both are refused with an error that says which releases are.
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(strings.TrimPrefix(strings.TrimSpace(s), "v"), ".")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("camundatest: version %q: want major.minor[.patch], such as 8.8.3", s)
	}
	nums := make([]int, 3)
	nums[2] = -1 // no patch: the latest one
	for i, p := range parts {
		if i == 2 && (p == "x" || p == "X") {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("camundatest: version %q: %q is not a number", s, p)
		}
		nums[i] = n
	}
	major, minor, patch := nums[0], nums[1], nums[2]
	switch {
	case major < 8 || (major == 8 && minor < 6):
		return 0, fmt.Errorf("camundatest: version %q: releases before 8.6 have no REST job API; emulated are 8.6, 8.7, 8.8.0-8.8.2, 8.8.3+, 8.9 and 8.10", s)
	case major > 8 || minor > 10:
		return 0, fmt.Errorf("camundatest: version %q: newer than the newest release emulated, %s (Camunda's main branch); emulated are 8.6, 8.7, 8.8.0-8.8.2, 8.8.3+, 8.9 and 8.10", s, newest)
	}
	switch minor {
	case 6:
		return V86, nil
	case 7:
		return V87, nil
	case 8:
		if patch >= 0 && patch <= 2 {
			return V880, nil
		}
		return V883, nil
	case 9:
		return V89, nil
	}
	return V810, nil
}
