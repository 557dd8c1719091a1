import { useState } from "react";
import { JsonView } from "../../components/JsonView";
import { Time } from "../../components/Time";
import { metadataOf } from "./streams";

export interface TimelineEvent {
  sequence: number;
  eventType: string;
  eventVersion: string;
  payload: unknown;
  metadata: unknown;
  recordedAt: string;
  position: string;
  hash: string;
}

/**
 * A stream's events in order: type, sequence, time, actor and request id, the
 * payload on demand. Events up to `appliedThrough` are marked as applied to the
 * state the time travel shows, `current` as the one it stands on.
 */
export function Timeline(props: {
  events: readonly TimelineEvent[];
  current: number | null;
  appliedThrough: number | null;
  onTravel: (sequence: number) => void;
}) {
  return (
    <ol className="audit-timeline" aria-label="Events of the stream">
      {props.events.map((event) => (
        <TimelineItem
          key={event.sequence}
          event={event}
          current={props.current === event.sequence}
          applied={
            props.appliedThrough != null &&
            event.sequence <= props.appliedThrough
          }
          onTravel={props.onTravel}
        />
      ))}
    </ol>
  );
}

function TimelineItem(props: {
  event: TimelineEvent;
  current: boolean;
  applied: boolean;
  onTravel: (sequence: number) => void;
}) {
  const { event } = props;
  const [open, setOpen] = useState(false);
  const meta = metadataOf(event.metadata);
  const bodyId = `audit-event-${event.sequence}`;
  const classes = [
    "audit-event",
    props.applied ? "audit-event-applied" : "audit-event-later",
    props.current ? "audit-event-current" : "",
  ]
    .filter(Boolean)
    .join(" ");
  return (
    <li
      className={classes}
      data-testid="audit-event"
      data-sequence={event.sequence}
      aria-current={props.current ? "step" : undefined}
    >
      <div className="audit-event-head">
        <span className="audit-seq" title="Sequence in the stream">
          #{event.sequence}
        </span>
        <strong className="audit-type">{event.eventType}</strong>
        <span className="muted">v{event.eventVersion}</span>
        <Time value={event.recordedAt} />
      </div>
      <dl className="audit-meta">
        <div>
          <dt>Actor</dt>
          <dd>{meta.actor ?? "—"}</dd>
        </div>
        <div>
          <dt>Request</dt>
          <dd>
            <code>{meta.requestId ?? "—"}</code>
          </dd>
        </div>
        <div>
          <dt>Position</dt>
          <dd>{event.position}</dd>
        </div>
      </dl>
      <div className="audit-event-actions">
        <button
          type="button"
          className="btn btn-small"
          aria-expanded={open}
          aria-controls={bodyId}
          onClick={() => setOpen(!open)}
        >
          {open ? "Hide payload" : "Payload"}
        </button>
        <button
          type="button"
          className="btn btn-small"
          aria-pressed={props.current}
          onClick={() => props.onTravel(event.sequence)}
        >
          State after this
        </button>
      </div>
      {open ? (
        <div className="audit-event-body" id={bodyId}>
          <JsonView
            value={event.payload}
            openDepth={3}
            label={`Payload of event ${event.sequence}`}
          />
          <h3 className="audit-subtitle">Metadata</h3>
          <JsonView
            value={event.metadata}
            openDepth={1}
            label={`Metadata of event ${event.sequence}`}
          />
          <p className="audit-hash">
            Hash <code title={event.hash}>{event.hash}</code>
          </p>
        </div>
      ) : null}
    </li>
  );
}
