import { useId } from "react";
import { useQuery } from "urql";
import { ErrorNotice } from "../../components/ErrorNotice";
import { JsonView } from "../../components/JsonView";
import { Loading } from "../../components/Loading";
import { Time } from "../../components/Time";
import { graphql } from "../../gql";
import type { AggregateType } from "../../gql/graphql";
import {
  appliedThrough,
  instantToLocalInput,
  localInputToInstant,
  type Travel,
} from "./streams";
import { useLosslessContext } from "../../lib/useLosslessContext";

const StateAt = graphql(`
  query AuditStateAt($type: AggregateType!, $id: String!, $at: DateTime!) {
    stateAt(aggregateType: $type, aggregateId: $id, at: $at) {
      at
      sequence
      lastRecordedAt
      state
    }
  }
`);

export interface TravelEvent {
  sequence: number;
  eventType: string;
  recordedAt: string;
}

/**
 * The stream's state at a point of its history: a slider and stepper over its
 * events (the state after event k) and an instant picker (local time).
 */
export function TimeTravel(props: {
  type: AggregateType;
  id: string;
  events: readonly TravelEvent[];
  travel: Travel;
  onTravel: (travel: Travel) => void;
}) {
  const { events, travel, onTravel } = props;
  const n = events.length;
  const sliderId = useId();
  const instantId = useId();
  const context = useLosslessContext();

  const k = travel.mode === "event" ? Math.min(Math.max(travel.k, 1), n) : null;
  const current = k != null ? events.find((e) => e.sequence === k) : undefined;
  const at =
    travel.mode === "event"
      ? (current?.recordedAt ?? null)
      : localInputToInstant(travel.local);

  const [{ data, fetching, error }] = useQuery({
    query: StateAt,
    variables: { type: props.type, id: props.id, at: at ?? "" },
    pause: at == null,
    context,
  });
  // urql keeps the previous answer while the next one loads: no flicker on the slider.
  const state = at == null ? undefined : data?.stateAt;

  const included = appliedThrough(events, travel);
  // Where the slider stands: event k, or the last event recorded by the instant.
  const position = k ?? Math.max(included ?? 0, 1);
  const step = (to: number) =>
    onTravel({ mode: "event", k: Math.min(Math.max(to, 1), n) });

  return (
    <section
      className="card audit-travel"
      aria-labelledby={`${sliderId}-title`}
    >
      <h2 id={`${sliderId}-title`}>Time travel</h2>
      <div className="audit-travel-controls">
        <div className="field audit-travel-slider">
          <label htmlFor={sliderId}>
            {k != null ? (
              <>
                State after event{" "}
                <strong>
                  {k} of {n}
                </strong>
                {current ? (
                  <span className="muted"> · {current.eventType}</span>
                ) : null}
              </>
            ) : (
              <>
                State at the instant:{" "}
                <strong>
                  {included ?? "—"} of {n}
                </strong>{" "}
                events applied
              </>
            )}
          </label>
          <div className="audit-stepper">
            <button
              type="button"
              className="btn btn-small"
              aria-label="Previous event"
              disabled={k == null ? n === 0 : k <= 1}
              onClick={() => step((k ?? position + 1) - 1)}
            >
              ‹
            </button>
            <input
              id={sliderId}
              type="range"
              min={1}
              max={Math.max(n, 1)}
              step={1}
              value={position}
              disabled={n === 0}
              data-testid="time-travel-slider"
              aria-valuetext={
                current
                  ? `after event ${k} of ${n}, ${current.eventType}`
                  : undefined
              }
              onChange={(e) => step(Number(e.target.value))}
            />
            <button
              type="button"
              className="btn btn-small"
              aria-label="Next event"
              disabled={k == null ? n === 0 : k >= n}
              onClick={() => step((k ?? position - 1) + 1)}
            >
              ›
            </button>
          </div>
        </div>
        <div className="field audit-travel-instant">
          <label htmlFor={instantId}>Or state at an instant (local time)</label>
          <div className="audit-stepper">
            <input
              id={instantId}
              type="datetime-local"
              step={1}
              value={
                travel.mode === "instant"
                  ? travel.local
                  : at
                    ? instantToLocalInput(at)
                    : ""
              }
              data-testid="time-travel-instant"
              onChange={(e) =>
                onTravel({ mode: "instant", local: e.target.value })
              }
            />
            <button
              type="button"
              className="btn btn-small"
              onClick={() =>
                onTravel({
                  mode: "instant",
                  local: instantToLocalInput(new Date()),
                })
              }
            >
              Now
            </button>
          </div>
        </div>
      </div>

      <p
        className="audit-travel-readout"
        aria-live="polite"
        data-testid="time-travel-readout"
      >
        {travel.mode === "event" && current ? (
          <>
            After event {k} ({current.eventType}), recorded{" "}
            <Time value={current.recordedAt} />
            {included != null && included > (k ?? 0) ? (
              <span className="muted">
                {" "}
                — with event{included - (k ?? 0) > 1 ? "s" : ""} {(k ?? 0) + 1}
                {included - (k ?? 0) > 1 ? `–${included}` : ""}, recorded in the
                same transaction
              </span>
            ) : null}
          </>
        ) : travel.mode === "instant" && at ? (
          <>
            At <Time value={at} />:{" "}
            {state ? `${state.sequence} of ${n} events applied` : "…"}
            {state?.lastRecordedAt ? (
              <>
                , the last recorded <Time value={state.lastRecordedAt} />
              </>
            ) : null}
          </>
        ) : travel.mode === "instant" ? (
          "Pick a date and time."
        ) : (
          "No events."
        )}
      </p>

      {error ? <ErrorNotice error={error} title="State not available" /> : null}
      <div
        className="audit-state"
        data-testid="state-json"
        aria-busy={fetching}
      >
        {state == null ? (
          fetching ? (
            <Loading label="Computing the state…" />
          ) : null
        ) : state.state == null ? (
          <p className="muted">
            No state: the stream had no events yet at that instant.
          </p>
        ) : (
          <JsonView value={state.state} openDepth={6} label="State" />
        )}
      </div>
    </section>
  );
}
