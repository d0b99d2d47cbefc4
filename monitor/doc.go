// Package monitor is the performance monitor: an orchestrator.Observer that
// watches every consultation's timings.
//
// After every consultation [Monitor] logs one line with the total, each
// stage's duration and each responding model's own response time, warns
// when a stage runs past its threshold, keeps latency percentiles over a
// bounded window, and warns when a model's observed p90 is slower than its
// tier promises. [Monitor.Stats] returns the percentiles as a [Snapshot]. It
// also records the council.consultation.duration and council.stage.duration
// histograms with the OpenTelemetry metrics API.
//
// The package depends on the orchestrator's domain types and the
// OpenTelemetry metrics API only.
package monitor
