package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// setting is one configuration knob of councild: an environment variable,
// the flag that takes precedence over it, or both. The list of settings
// both parses the configuration and writes the README's tables of variables
// and flags (see settingsTable), so the two cannot disagree.
type setting struct {
	// env is the environment variable; empty for a flag of its own.
	env string
	// flag is the flag's name without the dash; empty for a variable that
	// is never taken from the command line (secrets).
	flag string
	// def is the default as the reference shows it, in Markdown; empty for
	// none.
	def string
	// doc says what the setting does, in Markdown: -h shows it without
	// the backquotes.
	doc string
	// group is the README table the setting is listed in.
	group string
}

// Groups of settings, one README table each.
const (
	groupGeneral  = "general"
	groupSecurity = "security"
	groupReplicas = "replicas"
)

// settings declares councild's flags on a FlagSet, each defaulting to its
// environment variable, and records them for the reference. Values that do
// not parse are collected in errs, named by the variable they came from.
type settings struct {
	fs     *flag.FlagSet
	getenv func(string) string
	// group is the group the next settings join.
	group string
	list  []*setting
	errs  []error
}

// newSettings returns settings declaring flags on fs and reading variables
// with getenv.
func newSettings(fs *flag.FlagSet, getenv func(string) string) *settings {
	return &settings{fs: fs, getenv: getenv, group: groupGeneral}
}

// env returns the trimmed value of the variable key.
func (s *settings) env(key string) string {
	if key == "" {
		return ""
	}
	return strings.TrimSpace(s.getenv(key))
}

// add records a setting and returns it, so a caller can adjust how its
// default is shown.
func (s *settings) add(env, flag, def, doc string) *setting {
	if def != "" {
		def = "`" + def + "`"
	}
	st := &setting{env: env, flag: flag, def: def, doc: doc, group: s.group}
	s.list = append(s.list, st)
	return st
}

// usage is the flag's help text: the doc, without Markdown's backquotes,
// and the variable it defaults to.
func usage(env, doc string) string {
	doc = strings.ReplaceAll(doc, "`", "")
	if env == "" {
		return doc
	}
	return doc + " (" + env + ")"
}

// String declares a string setting.
func (s *settings) String(p *string, flag, env, def, doc string) *setting {
	v := s.env(env)
	if v == "" {
		v = def
	}
	s.fs.StringVar(p, flag, v, usage(env, doc))
	return s.add(env, flag, def, doc)
}

// Duration declares a setting holding a positive duration.
func (s *settings) Duration(p *time.Duration, flag, env string, def time.Duration, doc string) *setting {
	v := def
	if raw := s.env(env); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: want a positive duration such as 10s", env, raw))
		} else {
			v = d
		}
	}
	s.fs.DurationVar(p, flag, v, usage(env, doc))
	return s.add(env, flag, formatDuration(def), doc)
}

// DurationOrZero declares a setting holding a duration, 0 or more.
func (s *settings) DurationOrZero(p *time.Duration, flag, env string, def time.Duration, doc string) *setting {
	v := def
	if raw := s.env(env); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d < 0 {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: want a duration, 0 or more, such as 25ms", env, raw))
		} else {
			v = d
		}
	}
	s.fs.DurationVar(p, flag, v, usage(env, doc))
	return s.add(env, flag, formatDuration(def), doc)
}

// Int declares a setting holding a whole number, 0 or more.
func (s *settings) Int(p *int, flag, env string, def int, doc string) *setting {
	v := def
	if raw := s.env(env); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: want a whole number, 0 or more", env, raw))
		} else {
			v = n
		}
	}
	s.fs.IntVar(p, flag, v, usage(env, doc))
	return s.add(env, flag, strconv.Itoa(def), doc)
}

// Float declares a setting holding a positive number.
func (s *settings) Float(p *float64, flag, env string, def float64, doc string) *setting {
	v := def
	if raw := s.env(env); raw != "" {
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || f <= 0 {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: want a positive number", env, raw))
		} else {
			v = f
		}
	}
	s.fs.Float64Var(p, flag, v, usage(env, doc))
	return s.add(env, flag, strconv.FormatFloat(def, 'g', -1, 64), doc)
}

// Bool declares a setting holding true or false.
func (s *settings) Bool(p *bool, flag, env string, def bool, doc string) *setting {
	v := def
	if raw := s.env(env); raw != "" {
		b, err := strconv.ParseBool(raw)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: want true or false", env, raw))
		} else {
			v = b
		}
	}
	s.fs.BoolVar(p, flag, v, usage(env, doc))
	return s.add(env, flag, strconv.FormatBool(def), doc)
}

// Secret declares a variable that is read only from the environment, never
// from a flag, so that it does not show up in a process listing. It
// returns the variable's value.
func (s *settings) Secret(env, doc string) string {
	s.add(env, "", "", doc)
	return s.env(env)
}

// Source names where the value of the setting with flag name came from, for
// error messages: "-name" when the flag was given, else its variable when
// set, else "-name" (its default).
func (s *settings) Source(name string) string {
	given := false
	s.fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	if !given {
		for _, st := range s.list {
			if st.flag == name && st.env != "" && s.env(st.env) != "" {
				return st.env
			}
		}
	}
	return "-" + name
}

// Shown sets how the reference shows the setting's default, in Markdown.
func (st *setting) Shown(def string) *setting {
	st.def = def
	return st
}

// formatDuration writes d as a person would: 10s, 5m, 1h30m.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// settingsTable renders the settings of group as the README's Markdown
// table: variable, flag, default and meaning.
func settingsTable(list []*setting, group string) string {
	var b strings.Builder
	b.WriteString("| variable | flag | default | meaning |\n|---|---|---|---|\n")
	code := func(s string) string {
		if s == "" {
			return "—"
		}
		return "`" + s + "`"
	}
	for _, st := range list {
		if st.group != group {
			continue
		}
		flagName, def := "", st.def
		if st.flag != "" {
			flagName = "-" + st.flag
		}
		if def == "" {
			def = "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", code(st.env), code(flagName), def, st.doc)
	}
	return b.String()
}
