package limiter

import (
	"fmt"
	"strings"
)

// Profile is a preset of the limiter's numbers. The zero value is Balanced.
type Profile uint8

// The profiles. The numbers of each are listed in the package doc.
const (
	// Balanced is the default: a probe for one more permit every 50 rounds
	// at a backlog of 7 waiting per permit, only the room taken given back
	// when another client takes room, out of the way after 30s without
	// backpressure.
	Balanced Profile = iota
	// Conservative probes half as often and gives back a tenth of its
	// permits when another client takes room, for clusters shared with
	// traffic that matters more: a little goodput traded for fewer
	// refusals.
	Conservative
	// Aggressive probes twice as often and gets out of the way sooner, for
	// a client that has its cluster to itself.
	Aggressive
	// Observe tracks the limit and reports it through the hooks, but never
	// holds an attempt back. Camunda's SDKs call it LEGACY.
	Observe
	// Off makes the layer a pass-through: no tracking, no hooks.
	Off
)

var profileNames = [...]string{
	Balanced:     "balanced",
	Conservative: "conservative",
	Aggressive:   "aggressive",
	Observe:      "observe",
	Off:          "off",
}

// String returns the profile's name as ParseProfile accepts it, such as
// "balanced".
func (p Profile) String() string {
	if int(p) < len(profileNames) {
		return profileNames[p]
	}
	return fmt.Sprintf("Profile(%d)", uint8(p))
}

// ParseProfile reads a profile name, in any case: balanced, conservative,
// aggressive, observe or off, and the spellings of Camunda's SDKs
// (CAMUNDA_SDK_BACKPRESSURE_PROFILE): BALANCED, CONSERVATIVE, AGGRESSIVE, and
// LEGACY, which is Observe. The error names the value it could not read.
func ParseProfile(s string) (Profile, error) {
	t := strings.TrimSpace(s)
	for p, name := range profileNames {
		if strings.EqualFold(t, name) {
			return Profile(p), nil
		}
	}
	if strings.EqualFold(t, "legacy") {
		return Observe, nil
	}
	return 0, fmt.Errorf("limiter: unknown profile %q (want balanced, conservative, aggressive, observe or off)", s)
}
