// consult asks councild one question over gRPC and prints the deliberation
// as it streams: each answer, ranking and failure, the chairman's text as
// it is written, and the totals. It is the TypeScript counterpart of
// `councilctl consult`, built on the code protoc-gen-es generates from
// proto/council/v1 and on Connect-ES's gRPC transport for Node.js.
//
//   node dist/consult.js [--addr HOST:PORT] [--tier speed|balanced|cost] QUESTION
//
// The address defaults to COUNCIL_ADDR, else 127.0.0.1:50051. The exit
// code is 0 when the council answered, 1 when the call failed (the gRPC
// status is printed on stderr, with its ErrorInfo reason and the fields a
// BadRequest names) and 2 for bad usage.
import { create } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { timestampDate, type Duration } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

import { Council, ConsultRequestSchema } from "./gen/council/v1/council_pb.js";
import { Stage, Tier } from "./gen/council/v1/events_pb.js";

/** Parsed command line. */
interface Args {
  addr: string;
  tier: Tier;
  question: string;
}

const usage = "usage: consult [--addr HOST:PORT] [--tier speed|balanced|cost] QUESTION";

function parseArgs(argv: string[]): Args {
  const args: Args = { addr: process.env.COUNCIL_ADDR || "127.0.0.1:50051", tier: Tier.UNSPECIFIED, question: "" };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--addr" || a === "--tier") {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      if (a === "--addr") {
        args.addr = v;
      } else {
        const t = Tier[`${v.toUpperCase()}` as keyof typeof Tier];
        if (t === undefined || t === Tier.UNSPECIFIED) throw new Error(`unknown tier ${JSON.stringify(v)}`);
        args.tier = t;
      }
    } else {
      rest.push(a);
    }
  }
  if (rest.length !== 1) throw new Error("want exactly one question");
  args.question = rest[0];
  return args;
}

/** seconds formats a protobuf Duration as seconds, "1.23s". */
function seconds(d: Duration | undefined): string {
  if (!d) return "?";
  return `${(Number(d.seconds) + d.nanos / 1e9).toFixed(2)}s`;
}

/** stageName is "collect" for STAGE_COLLECT. */
function stageName(s: Stage): string {
  return (Stage[s] ?? String(s)).toLowerCase();
}

/**
 * describeDetails decodes the google.rpc.ErrorInfo and BadRequest details
 * of a status by hand (their fields are few and stable), so the client
 * needs no generated googleapis code.
 */
function describeDetails(err: ConnectError): string[] {
  const out: string[] = [];
  for (const d of err.details) {
    if (!("type" in d) || !("value" in d) || !(d.value instanceof Uint8Array)) continue;
    const r = new BinaryReader(d.value);
    if (d.type === "google.rpc.ErrorInfo") {
      let reason = "";
      let domain = "";
      while (r.pos < r.len) {
        const [field, wireType] = r.tag();
        if (field === 1) reason = r.string();
        else if (field === 2) domain = r.string();
        else r.skip(wireType);
      }
      out.push(`reason ${reason} (${domain})`);
    } else if (d.type === "google.rpc.BadRequest") {
      while (r.pos < r.len) {
        const [field, wireType] = r.tag();
        if (field !== 1) {
          r.skip(wireType);
          continue;
        }
        const v = new BinaryReader(r.bytes());
        let name = "";
        let description = "";
        while (v.pos < v.len) {
          const [f, w] = v.tag();
          if (f === 1) name = v.string();
          else if (f === 2) description = v.string();
          else v.skip(w);
        }
        out.push(`field ${name}: ${description}`);
      }
    }
  }
  return out;
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`consult: ${(e as Error).message}\n${usage}`);
    return 2;
  }
  const transport = createGrpcTransport({ baseUrl: `http://${args.addr}` });
  const client = createClient(Council, transport);
  const req = create(ConsultRequestSchema, { query: args.question, tier: args.tier });
  // midLine is true while the chairman's streamed text has not ended its
  // line, so that an event printed meanwhile starts a line of its own.
  let midLine = false;
  let inSynthesis = false;
  const line = (s: string): void => {
    if (midLine) process.stdout.write("\n");
    midLine = false;
    console.log(s);
  };
  try {
    for await (const ev of client.consult(req, { timeoutMs: 5 * 60_000 })) {
      const e = ev.event;
      switch (e.case) {
        case "consultStarted":
          line(`consultation ${ev.consultationId} at ${ev.emitTime ? timestampDate(ev.emitTime).toISOString() : "?"}: ` +
            `tier ${Tier[e.value.tier]}, council ${e.value.councilModels.join(", ")}, chairman ${e.value.chairmanModel}`);
          break;
        case "stageStarted":
          line(`[${stageName(e.value.stage)}] started`);
          break;
        case "modelAnswered":
          line(`[collect] ${e.value.model} answered in ${seconds(e.value.latency)} (${e.value.attempts} attempt(s))`);
          break;
        case "modelRanked":
          line(`[review] ${e.value.reviewerModel} ranked: ${e.value.ranking.join(" > ")}`);
          break;
        case "modelFailed":
          line(`[${stageName(e.value.stage)}] ${e.value.model} failed: ${e.value.message}`);
          break;
        case "synthesisDelta":
          if (!inSynthesis) {
            line(`[synthesize] ${e.value.model}:`);
            inSynthesis = true;
          }
          process.stdout.write(e.value.text);
          midLine = !e.value.text.endsWith("\n");
          break;
        case "finalAnswer":
          if (!inSynthesis) process.stdout.write(e.value.content);
          midLine = true;
          line(`[synthesize] final answer by ${e.value.model} in ${seconds(e.value.latency)}`);
          break;
        case "consultCompleted": {
          const u = e.value.usage;
          line(`completed in ${seconds(e.value.duration)}${e.value.degraded ? " (degraded)" : ""}: ` +
            `${u ? u.inputTokens + u.outputTokens : 0n} tokens, $${(u?.costUsd ?? 0).toFixed(4)}`);
          break;
        }
        default:
          // Other events (stage_completed, rankings_aggregated, deltas of
          // answers, …) are not printed; new ones may be added to the API.
          break;
      }
    }
  } catch (e) {
    const err = ConnectError.from(e);
    if (midLine) process.stdout.write("\n");
    console.error(`consult: ${Code[err.code]}: ${err.rawMessage}`);
    for (const d of describeDetails(err)) console.error(`  ${d}`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
