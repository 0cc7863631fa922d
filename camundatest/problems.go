package camundatest

import (
	"fmt"
	"net/http"

	"github.com/ebb-go/ebb/verdict"
)

// The texts below are the real gateway's and broker's, so that clients
// classify the emulator's answers exactly as they would a cluster's.
const (
	titleResourceExhausted = "RESOURCE_EXHAUSTED"
	titleRuntimeException  = "java.lang.RuntimeException"
	titleRetriesExhausted  = "io.camunda.zeebe.broker.client.api.RequestRetriesExhaustedException"

	// The broker's answer when its request limiter refuses a command.
	detailCapacity = "Reached maximum capacity of requests handled"
	// The 8.8.3+ gateway's answer once every partition refused.
	detailRetriesExhausted = "Expected to handle request, but all retries have been exhausted"
	// The 8.6 and 8.7 gateway's answer, titled with the exception's class,
	// when RequestRetriesExhaustedException reached its RestErrorMapper.
	detailRetriesExhaustedException = "Expected to handle REST API request, but all retries have been exhausted"
	// The broker's answer while its disk is full; the emulated cluster has
	// one partition.
	detailOutOfDisk = "Cannot accept requests for partition 1. Broker is out of disk space"
	// The 8.8.0–8.8.2 job activation answer; %s is the job type.
	detailActivationExhausted = "Unexpected error occurred during the request processing: Expected to activate jobs of type '%s', but no jobs available and at least one broker returned 'RESOURCE_EXHAUSTED'. Please try again later."
)

func problem(status int, title, detail, instance string) *verdict.Problem {
	return &verdict.Problem{Type: "about:blank", Title: title, Status: status, Detail: detail, Instance: instance}
}

// backpressure is the answer to a request refused for capacity (or, with
// outOfDisk, by a broker whose disk is full) in the shape of version v.
// jobType is the type a refused job activation asked for, "" for other
// requests.
func backpressure(v Version, exceptionTitle, outOfDisk, activation bool, jobType, instance string) *verdict.Problem {
	switch v {
	case V86, V87:
		if outOfDisk {
			return problem(http.StatusTooManyRequests, titleResourceExhausted, detailOutOfDisk, instance)
		}
		if exceptionTitle {
			return problem(http.StatusTooManyRequests, titleRetriesExhausted, detailRetriesExhaustedException, instance)
		}
		return problem(http.StatusTooManyRequests, titleResourceExhausted, detailCapacity, instance)
	case V880:
		if activation {
			// The long-polling handler of these releases turned any
			// RESOURCE_EXHAUSTED from the brokers into an unexpected
			// error, out of disk included.
			return problem(http.StatusInternalServerError, titleRuntimeException, fmt.Sprintf(detailActivationExhausted, jobType), instance)
		}
		if outOfDisk {
			return problem(http.StatusServiceUnavailable, titleResourceExhausted, detailOutOfDisk, instance)
		}
		return problem(http.StatusServiceUnavailable, titleResourceExhausted, detailCapacity, instance)
	default:
		if outOfDisk {
			return problem(http.StatusServiceUnavailable, titleResourceExhausted, detailOutOfDisk, instance)
		}
		return problem(http.StatusServiceUnavailable, titleResourceExhausted, detailRetriesExhausted, instance)
	}
}

// fault kinds, in the order their shares are laid on [0, 1).
type fault uint8

const (
	noFault fault = iota
	faultUnavailable
	faultAborted
	faultDeadlineExceeded
)

func (f fault) problem(instance string) *verdict.Problem {
	switch f {
	case faultUnavailable:
		return problem(http.StatusServiceUnavailable, "UNAVAILABLE",
			"Expected to handle client message on the leader of partition '1', but this node is not the leader for it", instance)
	case faultAborted:
		return problem(http.StatusBadGateway, "ABORTED",
			"Expected to handle request, but the connection to the broker was lost before it answered", instance)
	default:
		return problem(http.StatusGatewayTimeout, "DEADLINE_EXCEEDED",
			"Expected to handle request, but the broker did not answer in time", instance)
	}
}

// invalidArgument is the gateway's answer to a request that fails
// validation.
func invalidArgument(detail, instance string) *verdict.Problem {
	return problem(http.StatusBadRequest, "INVALID_ARGUMENT", detail, instance)
}

// unreadable is Spring's answer to a body that is not the JSON it expects.
func unreadable(instance string) *verdict.Problem {
	return problem(http.StatusBadRequest, "Bad Request", "Failed to read request", instance)
}

// rejection is the broker's refusal of a command, as the gateway maps it:
// NOT_FOUND is 404, INVALID_STATE and ALREADY_EXISTS 409, INVALID_ARGUMENT
// 400.
func rejection(intent, code, reason, instance string) *verdict.Problem {
	status := http.StatusNotFound
	switch code {
	case "INVALID_STATE", "ALREADY_EXISTS":
		status = http.StatusConflict
	case "INVALID_ARGUMENT":
		status = http.StatusBadRequest
	}
	return problem(status, code, fmt.Sprintf("Command '%s' rejected with code '%s': %s", intent, code, reason), instance)
}
