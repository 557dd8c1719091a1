import { useId, useState, type FormEvent } from "react";
import { useClient } from "urql";
import { ErrorNotice } from "../../components/ErrorNotice";
import { JsonView } from "../../components/JsonView";
import { Time } from "../../components/Time";
import type { DryRunMappingQuery } from "../../gql/graphql";
import { formatDuration } from "../../lib/format";
import { toAppError, type AppError } from "../../lib/errors";
import { useCan } from "../../lib/session";
import { parsePayload, validEventId } from "./dryRun";
import { LATEST_EVENT_OF_TYPE, DRY_RUN_MAPPING } from "./operations";

type Source = "payload" | "event";
type Outcome =
  | {
      kind: "done";
      run: DryRunMappingQuery["dryRunMapping"];
      source: Source;
      at: string;
      program: string;
    }
  | { kind: "failed"; error: AppError };

/** Runs the editor's program on a payload or a recorded event, in the mapping sandbox. */
export function DryRunPanel(props: { program: string; eventType: string }) {
  const id = useId();
  const client = useClient();
  const canEvents = useCan("events:read");
  const [source, setSource] = useState<Source>("payload");
  const [payload, setPayload] = useState('{\n  "id": 1\n}');
  const [eventId, setEventId] = useState("");
  const [running, setRunning] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [lookup, setLookup] = useState<{
    busy: boolean;
    note: string | null;
    error: AppError | null;
  }>({
    busy: false,
    note: null,
    error: null,
  });

  const parsed = parsePayload(payload);
  const eventIdValid = validEventId(eventId);
  const inputOk = source === "payload" ? parsed.ok : eventIdValid;
  const canRun = props.program.trim() !== "" && inputOk && !running;

  const run = async (e: FormEvent) => {
    e.preventDefault();
    if (!canRun) return;
    setRunning(true);
    const vars =
      source === "payload" && parsed.ok
        ? { program: props.program, payload: parsed.value }
        : { program: props.program, eventId: eventId.trim() };
    const r = await client
      .query(DRY_RUN_MAPPING, vars, { requestPolicy: "network-only" })
      .toPromise();
    setRunning(false);
    if (r.data?.dryRunMapping)
      setOutcome({
        kind: "done",
        run: r.data.dryRunMapping,
        source,
        at: new Date().toISOString(),
        program: vars.program,
      });
    else
      setOutcome({
        kind: "failed",
        error: toAppError(r.error) ?? {
          code: "error",
          message: "the dry run failed",
        },
      });
  };

  const latestEvent = async () => {
    setLookup({ busy: true, note: null, error: null });
    const r = await client
      .query(
        LATEST_EVENT_OF_TYPE,
        { eventType: props.eventType },
        { requestPolicy: "network-only" },
      )
      .toPromise();
    const ev = r.data?.events.nodes[0];
    if (ev) {
      setEventId(ev.id);
      setLookup({
        busy: false,
        note: `${ev.sourceSystem}:${ev.eventKey}`,
        error: null,
      });
    } else {
      setLookup({
        busy: false,
        note: null,
        error: r.error
          ? toAppError(r.error)
          : {
              code: "event_not_found",
              message: `No ${props.eventType} event recorded yet.`,
            },
      });
    }
  };

  return (
    <section className="card dry-run" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Dry run</h2>
      <p className="section-note small muted">
        Runs the program in the editor (published or not) in the mapping
        sandbox, with the limits deliveries run under. Nothing is published or
        sent.
      </p>
      <form onSubmit={run} className="dry-run-form">
        {canEvents ? (
          <fieldset className="segmented">
            <legend className="visually-hidden">Run on</legend>
            <label className={source === "payload" ? "seg seg-on" : "seg"}>
              <input
                type="radio"
                name={`${id}-source`}
                checked={source === "payload"}
                onChange={() => setSource("payload")}
              />
              A JSON payload
            </label>
            <label className={source === "event" ? "seg seg-on" : "seg"}>
              <input
                type="radio"
                name={`${id}-source`}
                checked={source === "event"}
                onChange={() => setSource("event")}
                data-testid="dry-run-source-event"
              />
              A recorded event
            </label>
          </fieldset>
        ) : null}
        {source === "payload" ? (
          <div className="field">
            <label htmlFor={`${id}-payload`}>Payload (JSON)</label>
            <textarea
              id={`${id}-payload`}
              className="json-input"
              value={payload}
              rows={8}
              spellCheck={false}
              aria-invalid={!parsed.ok}
              aria-describedby={`${id}-payload-help`}
              onChange={(e) => setPayload(e.target.value)}
              data-testid="dry-run-payload"
            />
            <span
              id={`${id}-payload-help`}
              className={parsed.ok ? "hint" : "field-error"}
            >
              {parsed.ok
                ? "The event's payload, as a producer would send it."
                : parsed.error}
            </span>
          </div>
        ) : (
          <div className="field">
            <label htmlFor={`${id}-event`}>Event id</label>
            <div className="input-with-button">
              <input
                id={`${id}-event`}
                value={eventId}
                inputMode="numeric"
                spellCheck={false}
                placeholder="388357663823503361"
                aria-invalid={eventId !== "" && !eventIdValid}
                onChange={(e) => {
                  setEventId(e.target.value);
                  setLookup({ busy: false, note: null, error: null });
                }}
                data-testid="dry-run-event-id"
              />
              <button
                type="button"
                className="btn btn-small"
                onClick={latestEvent}
                disabled={lookup.busy}
              >
                {lookup.busy ? "Looking…" : `Latest ${props.eventType}`}
              </button>
            </div>
            <span className="hint">
              {lookup.note
                ? `Event ${lookup.note}`
                : "The payload of a recorded event (needs events:read)."}
            </span>
            <ErrorNotice error={lookup.error} />
          </div>
        )}
        <div className="form-actions">
          <button
            type="submit"
            className="btn btn-primary"
            disabled={!canRun}
            data-testid="dry-run-button"
          >
            {running ? "Running…" : "Run"}
          </button>
        </div>
      </form>
      {outcome ? (
        <DryRunResult
          outcome={outcome}
          stale={outcome.kind === "done" && outcome.program !== props.program}
        />
      ) : null}
    </section>
  );
}

function DryRunResult({
  outcome,
  stale,
}: {
  outcome: Outcome;
  stale: boolean;
}) {
  if (outcome.kind === "failed") {
    return (
      <div data-testid="dry-run-output" data-outcome="error">
        <ErrorNotice error={outcome.error} title="Dry run not run" />
      </div>
    );
  }
  const { run } = outcome;
  return (
    <div
      className="dry-run-output"
      data-testid="dry-run-output"
      data-outcome={run.error ? "error" : "ok"}
      aria-live="polite"
    >
      <p className="dry-run-meta small">
        {run.error ? (
          <span className="badge badge-danger">failed</span>
        ) : (
          <span className="badge badge-success">output</span>
        )}{" "}
        ran in {formatDuration(run.durationMs)}
        <span className="muted">
          {" "}
          · at <Time value={outcome.at} />
        </span>
        {stale ? (
          <span className="badge badge-warning dry-run-stale">
            program edited since: run again
          </span>
        ) : null}
      </p>
      {run.error ? (
        <div className="notice notice-error" role="alert">
          <p>
            {run.error.message}{" "}
            <code className="error-code">{run.error.code}</code>
            {run.error.line != null ? (
              <span className="small">
                {" "}
                (line {run.error.line}
                {run.error.column != null ? `, column ${run.error.column}` : ""}
                )
              </span>
            ) : null}
          </p>
        </div>
      ) : (
        <JsonView value={run.output} label="Output" openDepth={3} />
      )}
      {outcome.source === "event" ? (
        <details className="dry-run-input">
          <summary>The event's payload it ran on</summary>
          <JsonView value={run.input} label="Input" />
        </details>
      ) : null}
    </div>
  );
}
