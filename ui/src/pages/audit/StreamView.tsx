import { useId, useState, type FormEvent } from "react";
import { Link } from "wouter";
import { useQuery } from "urql";
import { Empty } from "../../components/Empty";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Loading } from "../../components/Loading";
import { graphql } from "../../gql";
import { useCan } from "../../lib/session";
import { ChainBadge } from "./ChainBadge";
import {
  STREAM_KINDS,
  appliedThrough,
  relatedLinks,
  streamKind,
  type StreamKind,
  type Travel,
} from "./streams";
import { TimeTravel } from "./TimeTravel";
import { Timeline } from "./Timeline";
import { useLosslessContext } from "../../lib/useLosslessContext";

const History = graphql(`
  query AuditHistory($type: AggregateType!, $id: String!) {
    history(aggregateType: $type, aggregateId: $id) {
      sequence
      eventType
      eventVersion
      payload
      metadata
      recordedAt
      position
      hash
    }
  }
`);

/** Choose a stream: its aggregate type and id. */
export function StreamPicker(props: {
  type: string;
  id: string;
  onPick: (type: string, id: string) => void;
}) {
  const [type, setType] = useState(streamKind(props.type)?.name ?? "Delivery");
  const [id, setId] = useState(props.id);
  const typeId = useId();
  const idId = useId();
  const kind = streamKind(type);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (id.trim()) props.onPick(type, id.trim());
  };
  return (
    <form
      className="filter-bar audit-picker"
      onSubmit={submit}
      aria-label="Stream"
    >
      <div className="field">
        <label htmlFor={typeId}>Aggregate type</label>
        <select
          id={typeId}
          value={type}
          data-testid="audit-type"
          onChange={(e) => setType(e.target.value)}
        >
          {STREAM_KINDS.map((k) => (
            <option key={k.name} value={k.name}>
              {k.label}
            </option>
          ))}
        </select>
      </div>
      <div className="field audit-picker-id">
        <label htmlFor={idId}>Stream id</label>
        <input
          id={idId}
          type="text"
          value={id}
          spellCheck={false}
          placeholder={kind?.idHint}
          data-testid="audit-id"
          onChange={(e) => setId(e.target.value)}
        />
      </div>
      <button type="submit" className="btn btn-primary" disabled={!id.trim()}>
        Show history
      </button>
    </form>
  );
}

/** One stream: its chain, its history as a timeline, and time travel through it. */
export function StreamView(props: { kind: StreamKind; id: string }) {
  const { kind, id } = props;
  const context = useLosslessContext();
  const [{ data, fetching, error }, refetch] = useQuery({
    query: History,
    variables: { type: kind.value, id },
    requestPolicy: "network-only",
    context,
  });
  const events = data?.history ?? [];
  const [travel, setTravel] = useState<Travel | null>(null);
  const effective: Travel = travel ?? { mode: "event", k: events.length };
  const current = effective.mode === "event" ? effective.k : null;
  // Links only to the pages this key may open.
  const allowed: Record<string, boolean> = {
    Event: useCan("events:read"),
    Endpoint: useCan("endpoints:read"),
    Mapping: useCan("mappings:read"),
  };
  const links = relatedLinks(kind, id).filter(
    (l) => allowed[l.label] !== false,
  );

  const travelTo = (sequence: number) =>
    setTravel({ mode: "event", k: sequence });
  const scrollTo = (sequence: number) => {
    travelTo(sequence);
    document
      .querySelector(`[data-testid="audit-event"][data-sequence="${sequence}"]`)
      ?.scrollIntoView({ block: "center" });
  };

  return (
    <section className="audit-stream" aria-labelledby="audit-stream-title">
      <div className="audit-stream-head">
        <h2 id="audit-stream-title">
          {kind.label} <code>{id}</code>
        </h2>
        <ChainBadge type={kind.value} id={id} onShowBroken={scrollTo} />
        {links.length ? (
          <p className="audit-links">
            {links.map((l) => (
              <Link key={l.href} href={l.href} className="btn btn-small">
                {l.label} →
              </Link>
            ))}
          </p>
        ) : null}
      </div>
      {error ? (
        <ErrorNotice
          error={error}
          title="History not available"
          onRetry={() => refetch()}
        />
      ) : null}
      {fetching && !data ? <Loading label="Reading the stream…" /> : null}
      {data && events.length === 0 ? (
        <Empty>This stream has no events.</Empty>
      ) : null}
      {events.length > 0 ? (
        <div className="audit-stream-body">
          <TimeTravel
            type={kind.value}
            id={id}
            events={events}
            travel={effective}
            onTravel={setTravel}
          />
          <div className="audit-history">
            <h2>
              History <span className="muted">({events.length} events)</span>
            </h2>
            <Timeline
              events={events}
              current={current}
              appliedThrough={appliedThrough(events, effective)}
              onTravel={travelTo}
            />
          </div>
        </div>
      ) : null}
    </section>
  );
}
