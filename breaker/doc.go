// Package breaker is ebb's circuit breaker layer.
package breaker
