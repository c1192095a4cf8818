package main

import (
	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// maxLogVerbosity caps the V-level of every log line, whatever
// --zap-log-level asks for. client-go logs the bodies of its requests and
// replies from V(8) on, through the logger controller-runtime hands it, and
// those bodies include Secrets: above this level passwords would be logged.
const maxLogVerbosity = 7

// newLogger is the manager's logger: zap configured by the --zap-* flags,
// capped at maxLogVerbosity.
func newLogger(o *zap.Options) logr.Logger {
	return logr.New(&cappedSink{sink: zap.New(zap.UseFlagOptions(o)).GetSink(), max: maxLogVerbosity})
}

// cappedSink drops Info lines above a verbosity.
type cappedSink struct {
	sink logr.LogSink
	max  int
}

func (s *cappedSink) Init(info logr.RuntimeInfo) { s.sink.Init(info) }

func (s *cappedSink) Enabled(level int) bool { return level <= s.max && s.sink.Enabled(level) }

func (s *cappedSink) Info(level int, msg string, kv ...any) {
	if level <= s.max {
		s.sink.Info(level, msg, kv...)
	}
}

func (s *cappedSink) Error(err error, msg string, kv ...any) { s.sink.Error(err, msg, kv...) }

func (s *cappedSink) WithValues(kv ...any) logr.LogSink {
	return &cappedSink{sink: s.sink.WithValues(kv...), max: s.max}
}

func (s *cappedSink) WithName(name string) logr.LogSink {
	return &cappedSink{sink: s.sink.WithName(name), max: s.max}
}

// WithCallDepth keeps the caller's file and line right through the wrapper.
func (s *cappedSink) WithCallDepth(depth int) logr.LogSink {
	if cd, ok := s.sink.(logr.CallDepthLogSink); ok {
		return &cappedSink{sink: cd.WithCallDepth(depth + 1), max: s.max}
	}
	return s
}
