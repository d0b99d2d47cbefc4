package main

import (
	"time"

	"github.com/councilhq/council/admission"
	"github.com/councilhq/council/server"
)

// Environment variables of adaptive admission.
const (
	envAdaptiveAdmission  = "COUNCIL_ADAPTIVE_ADMISSION"
	envAdmissionMin       = "COUNCIL_ADMISSION_MIN"
	envAdmissionTolerance = "COUNCIL_ADMISSION_TOLERANCE"
)

// defaultAdmissionMin is the adaptive limit's default floor: however busy
// the machine, this many consultations may run.
const defaultAdmissionMin = 10

// adaptiveAdmission configures the adaptive admission limit under
// -max-consultations.
type adaptiveAdmission struct {
	enabled bool
	// min is the limit's floor.
	min int
	// tolerance is the scheduler delay over its no-load baseline that
	// still counts as no overload.
	tolerance time.Duration
}

// defaultAdaptiveAdmission is adaptive admission as councild runs it
// unless configured otherwise.
var defaultAdaptiveAdmission = adaptiveAdmission{enabled: true, min: defaultAdmissionMin, tolerance: admission.DefaultTolerance}

// option returns the server option of a, nil when it is off.
func (a adaptiveAdmission) option() server.Option {
	if !a.enabled {
		return nil
	}
	return server.WithAdaptiveAdmission(server.AdaptiveAdmission{Min: a.min, Tolerance: a.tolerance})
}
