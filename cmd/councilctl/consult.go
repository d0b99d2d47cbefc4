package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"

	councilv1 "github.com/councilhq/council/gen/council/v1"
)

// consult runs the consult command.
func consult(ctx context.Context, conn *grpc.ClientConn, args []string, std stdio, getenv func(string) string) error {
	fs := flag.NewFlagSet("consult", flag.ContinueOnError)
	fs.SetOutput(std.out)
	tier := fs.String("tier", "", "speed, balanced or cost (default: the server's)")
	models := fs.String("models", "", "comma-separated council models (default: the tier's)")
	chairman := fs.String("chairman", "", "chairman model (default: the tier's)")
	requestID := fs.String("request-id", "", "request id: echoed by the server, makes a retry attach to the first consultation (default: a random one, unless --no-resume)")
	noResume := fs.Bool("no-resume", false, "do not resume the stream with Watch when it breaks")
	asJSON := fs.Bool("json", false, "print every event as one line of protobuf JSON")
	answerOnly := fs.Bool("answer-only", false, "print only the final answer on stdout; progress goes to stderr")
	historyFile := fs.String("history", "", `JSON file of earlier turns: [{"role":"user","content":"…"},{"role":"assistant","content":"…"}]`)
	maxCost := fs.Float64("max-cost", 0, "most the consultation may cost, in US dollars (0: no cap)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badUsage(`consult takes one question (quote it, or give - to read it from stdin): councilctl consult "Why is the sky blue?"`)
	}
	if *asJSON && *answerOnly {
		return badUsage("--json and --answer-only exclude each other")
	}
	query := pos[0]
	if query == "-" {
		b, err := io.ReadAll(std.in)
		if err != nil {
			return fmt.Errorf("reading the question from stdin: %w", err)
		}
		query = strings.TrimRight(string(b), "\r\n")
	}
	req := &councilv1.ConsultRequest{
		Query:         query,
		CouncilModels: splitList(*models),
		ChairmanModel: strings.TrimSpace(*chairman),
		RequestId:     *requestID,
		MaxCostUsd:    *maxCost,
	}
	if req.Tier, err = parseTier(*tier); err != nil {
		return badUsage("%w", err)
	}
	if *historyFile != "" {
		if req.History, err = readHistory(*historyFile); err != nil {
			return err
		}
	}

	if req.RequestId == "" && !*noResume {
		// A request id keeps the consultation running on the server
		// while councilctl reconnects, and makes a retry attach to it.
		req.RequestId = newRequestID()
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client := councilv1.NewCouncilClient(conn)
	stream, err := client.Consult(ctx, req)
	if err != nil {
		return callError(err)
	}
	f := &follower{
		client: client,
		p:      newPrinter(*asJSON, *answerOnly, std, getenv),
		notes:  std.errOut,
		resume: !*noResume,
		retry:  func(ctx context.Context) (eventStream, error) { return client.Consult(ctx, req) },
	}
	if *answerOnly {
		// The progress leaves the id out; a resuming user needs it.
		f.onStart = func(id string) { fmt.Fprintf(std.errOut, "consultation %s\n", id) }
	}
	return f.run(ctx, stream)
}

// newPrinter returns the printer of the chosen output.
func newPrinter(asJSON, answerOnly bool, std stdio, getenv func(string) string) eventPrinter {
	switch {
	case asJSON:
		return &jsonPrinter{w: std.out}
	case answerOnly:
		return &answerPrinter{progress: textPrinter{w: std.errOut, color: colorOK(std.errTTY, getenv), quiet: true}, w: std.out}
	}
	return &textPrinter{w: std.out, color: colorOK(std.outTTY, getenv)}
}

// colorOK reports whether output to a stream may be coloured: only on a
// terminal, and never when NO_COLOR is set (https://no-color.org).
func colorOK(tty bool, getenv func(string) string) bool {
	return tty && getenv("NO_COLOR") == ""
}

// readHistory reads earlier turns from a JSON file: an array of objects
// with a role (user or assistant, or ROLE_USER and ROLE_ASSISTANT) and a
// content.
func readHistory(path string) ([]*councilv1.Turn, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading --history: %w", err)
	}
	var turns []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	if err := json.Unmarshal(data, &turns); err != nil {
		return nil, badUsage("--history %s: want a JSON array of {\"role\", \"content\"} objects: %v", path, err)
	}
	out := make([]*councilv1.Turn, 0, len(turns))
	for i, t := range turns {
		name := strings.ToUpper(strings.TrimSpace(t.Role))
		v, ok := councilv1.Role_value["ROLE_"+strings.TrimPrefix(name, "ROLE_")]
		if !ok || v == int32(councilv1.Role_ROLE_UNSPECIFIED) {
			return nil, badUsage("--history %s, turn %d: role %q: want user or assistant", path, i, t.Role)
		}
		out = append(out, &councilv1.Turn{Role: councilv1.Role(v), Content: t.Content})
	}
	return out, nil
}

// parseTier maps a tier name to the API enum; empty means unspecified.
func parseTier(name string) (councilv1.Tier, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return councilv1.Tier_TIER_UNSPECIFIED, nil
	}
	v, ok := councilv1.Tier_value["TIER_"+strings.ToUpper(name)]
	if !ok || v == int32(councilv1.Tier_TIER_UNSPECIFIED) {
		return 0, fmt.Errorf("unknown tier %q: want speed, balanced or cost", name)
	}
	return councilv1.Tier(v), nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
