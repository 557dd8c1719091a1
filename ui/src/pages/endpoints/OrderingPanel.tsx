import { useId, useState, type FormEvent } from "react";
import { useMutation, useQuery } from "urql";
import { Link } from "wouter";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Empty } from "../../components/Empty";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Loading } from "../../components/Loading";
import { Time } from "../../components/Time";
import type {
  EndpointOrderingQuery,
  HeadOfLineRule,
  OrderingMode,
} from "../../gql/graphql";
import { formatNumber } from "../../lib/format";
import { usePolling } from "../../lib/live";
import { useCan } from "../../lib/session";
import { errorField } from "./errors";
import {
  DEAD_LETTER_RULES,
  ENDPOINT_ORDERING_QUERY,
  ORDERING_MODES,
  SET_ENDPOINT_ORDERING,
  SKIP_BLOCKED_DELIVERY,
  describeOrdering,
  orderingChanged,
  orderingFormProblem,
  orderingFormState,
  orderingInput,
  type OrderingFormState,
} from "./ordering";

type Ordering = NonNullable<EndpointOrderingQuery["endpointOrdering"]>;
type BlockedLine = Ordering["blockedKeys"][number];

/** The endpoint page's "Ordering" section: mode, dead-letter rule, blocked lines. */
export function OrderingPanel(props: { endpointId: string; deleted: boolean }) {
  const [result, reexecute] = useQuery({
    query: ENDPOINT_ORDERING_QUERY,
    variables: { id: props.endpointId },
  });
  usePolling(() => reexecute({ requestPolicy: "network-only" }), 10_000);
  // A mutation's answer shows at once; the next read replaces it.
  const [answered, setAnswered] = useState<Ordering | null>(null);
  const [lastRead, setLastRead] = useState<Ordering | null>(null);
  const fresh = result.data?.endpointOrdering ?? null;
  if (fresh && fresh !== lastRead) {
    setLastRead(fresh);
    setAnswered(null);
  }
  const ordering = answered ?? fresh ?? lastRead;
  const canWrite = useCan("endpoints:write");
  const [editing, setEditing] = useState(false);

  return (
    <section className="section card" aria-labelledby="ep-ordering">
      <h2 id="ep-ordering">Ordering</h2>
      {!ordering ? (
        result.error ? (
          <ErrorNotice
            error={result.error}
            onRetry={() => reexecute({ requestPolicy: "network-only" })}
          />
        ) : result.fetching ? (
          <Loading label="Loading the ordering…" />
        ) : (
          <Empty>No ordering is known for this endpoint.</Empty>
        )
      ) : (
        <>
          {result.error && ordering ? (
            <ErrorNotice
              error={result.error}
              title="Refreshing failed; showing the last state read"
            />
          ) : null}
          <dl className="props">
            <dt>Mode</dt>
            <dd data-testid="ordering-mode" data-mode={ordering.mode}>
              {describeOrdering(ordering)}
            </dd>
            {ordering.mode !== "NONE" ? (
              <>
                <dt>Dead letter</dt>
                <dd data-testid="ordering-rule">
                  {ordering.onDeadLetter === "SKIPS"
                    ? "skips: the next delivery of the line goes"
                    : "blocks: the line waits until it is requeued or skipped"}
                </dd>
              </>
            ) : null}
          </dl>
          {editing ? (
            <OrderingForm
              endpointId={props.endpointId}
              current={orderingFormState(ordering)}
              onDone={(o) => {
                if (o) {
                  setAnswered(o);
                  reexecute({ requestPolicy: "network-only" });
                }
                setEditing(false);
              }}
            />
          ) : canWrite && !props.deleted ? (
            <div className="action-row">
              <button
                type="button"
                className="btn btn-small"
                onClick={() => setEditing(true)}
                data-testid="ordering-change"
              >
                Change ordering
              </button>
            </div>
          ) : !canWrite ? (
            <p className="muted small">
              Changing the ordering needs the <code>endpoints:write</code>{" "}
              scope.
            </p>
          ) : null}
          {ordering.mode !== "NONE" || ordering.blockedKeys.length > 0 ? (
            <BlockedLines
              ordering={ordering}
              onChanged={(o) => {
                setAnswered(o);
                reexecute({ requestPolicy: "network-only" });
              }}
            />
          ) : null}
        </>
      )}
    </section>
  );
}

function OrderingForm(props: {
  endpointId: string;
  current: OrderingFormState;
  onDone: (o: Ordering | null) => void;
}) {
  const id = useId();
  const [form, setForm] = useState<OrderingFormState>(props.current);
  const [state, set] = useMutation(SET_ENDPOINT_ORDERING);
  const problem = orderingFormProblem(form);
  const changed = orderingChanged(form, props.current);
  const serverField = errorField(state.error);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (problem || !changed) return;
    const res = await set({
      id: props.endpointId,
      ordering: orderingInput(form),
    });
    if (res.data?.setEndpointOrdering)
      props.onDone(res.data.setEndpointOrdering);
  };

  return (
    <form
      className="ordering-form"
      onSubmit={submit}
      onKeyDown={(e) => {
        if (e.key === "Escape") props.onDone(null);
      }}
      data-testid="ordering-form"
    >
      <div className="field">
        <label htmlFor={`${id}-mode`}>Mode</label>
        <select
          id={`${id}-mode`}
          value={form.mode}
          onChange={(e) =>
            setForm({ ...form, mode: e.target.value as OrderingMode })
          }
          data-testid="ordering-mode-select"
        >
          {ORDERING_MODES.map((m) => (
            <option key={m.value} value={m.value}>
              {m.label}
            </option>
          ))}
        </select>
      </div>
      {form.mode === "KEY" ? (
        <div className="field">
          <label htmlFor={`${id}-path`}>Key path</label>
          <input
            id={`${id}-path`}
            className="mono"
            value={form.keyPath}
            placeholder=".payload.customer_id"
            spellCheck={false}
            autoComplete="off"
            aria-invalid={
              (form.keyPath !== "" && problem != null) ||
              serverField === "keyPath" ||
              serverField === "key_path"
            }
            aria-describedby={`${id}-path-hint`}
            onChange={(e) => setForm({ ...form, keyPath: e.target.value })}
            data-testid="ordering-key-path"
          />
          <div id={`${id}-path-hint`} className="muted small">
            A jq path over{" "}
            <code>{"{event_type, source_system, event_key, payload}"}</code>.
            Deliveries with the same value go one at a time, in order.
          </div>
        </div>
      ) : null}
      {form.mode !== "NONE" ? (
        <div className="field">
          <label htmlFor={`${id}-rule`}>
            When a line's head is dead-lettered
          </label>
          <select
            id={`${id}-rule`}
            value={form.onDeadLetter}
            onChange={(e) =>
              setForm({
                ...form,
                onDeadLetter: e.target.value as HeadOfLineRule,
              })
            }
            data-testid="ordering-rule-select"
          >
            {DEAD_LETTER_RULES.map((r) => (
              <option key={r.value} value={r.value}>
                {r.label}
              </option>
            ))}
          </select>
        </div>
      ) : null}
      {problem && form.keyPath !== "" ? (
        <p className="small field-error">{problem}</p>
      ) : null}
      <p className="muted small">
        Applies to deliveries scheduled from now on; queued ones keep their
        order.
      </p>
      <div className="form-actions">
        <button
          type="submit"
          className="btn btn-primary btn-small"
          disabled={problem != null || !changed || state.fetching}
          data-testid="ordering-save"
        >
          {state.fetching ? "Saving…" : "Save"}
        </button>
        <button
          type="button"
          className="btn btn-small"
          onClick={() => props.onDone(null)}
        >
          Cancel
        </button>
      </div>
      <ErrorNotice error={state.error} title="Ordering not changed" />
    </form>
  );
}

function BlockedLines(props: {
  ordering: Ordering;
  onChanged: (o: Ordering) => void;
}) {
  const { ordering } = props;
  const canSkip = useCan("deliveries:write");
  const [skipping, setSkipping] = useState<BlockedLine | null>(null);
  const [reason, setReason] = useState("");
  const [state, skip] = useMutation(SKIP_BLOCKED_DELIVERY);
  const reasonId = useId();

  return (
    <div className="blocked-lines">
      <h3>Blocked lines</h3>
      {ordering.blockedKeys.length === 0 ? (
        <Empty>No line is blocked.</Empty>
      ) : (
        <>
          <p className="muted small">
            A dead letter holds each of these lines. Requeue it (from its
            delivery page) to try it again in its place, or skip it to let the
            line go on without it.
          </p>
          <ul className="blocked-list">
            {ordering.blockedKeys.map((b) => (
              <li key={b.deliveryId} data-testid="blocked-line">
                <div>
                  <span className="mono" data-testid="blocked-line-key">
                    {ordering.mode === "ENDPOINT" || b.key === ""
                      ? "(the endpoint's line)"
                      : b.key}
                  </span>
                  <span className="muted small">
                    {" "}
                    since <Time value={b.since} />
                  </span>
                </div>
                <div className="small">
                  held by{" "}
                  <Link href={`/deliveries/${b.deliveryId}`}>
                    delivery {b.deliveryId}
                  </Link>
                  {"; "}
                  {formatNumber(b.waiting)} waiting behind
                </div>
                <div className="action-row">
                  <Link
                    href={`/deliveries/${b.deliveryId}`}
                    className="btn btn-small"
                    title="Requeue it from its delivery page"
                  >
                    Requeue…
                  </Link>
                  {canSkip ? (
                    <button
                      type="button"
                      className="btn btn-small"
                      onClick={() => {
                        setReason("");
                        setSkipping(b);
                      }}
                      data-testid="blocked-line-skip"
                    >
                      Skip
                    </button>
                  ) : null}
                </div>
              </li>
            ))}
          </ul>
          {!canSkip ? (
            <p className="muted small">
              Skipping a dead letter needs the <code>deliveries:write</code>{" "}
              scope.
            </p>
          ) : null}
        </>
      )}
      <ErrorNotice error={state.error} title="Not skipped" />
      <ConfirmDialog
        open={skipping != null}
        title="Skip the dead letter blocking this line?"
        confirmLabel="Skip it"
        danger
        busy={state.fetching}
        testId="skip-blocked-dialog"
        onCancel={() => setSkipping(null)}
        onConfirm={async () => {
          if (!skipping) return;
          const res = await skip({
            deliveryId: skipping.deliveryId,
            reason: reason.trim() === "" ? null : reason.trim(),
          });
          if (res.data?.skipBlockedDelivery) {
            props.onChanged(res.data.skipBlockedDelivery);
          }
          setSkipping(null);
        }}
      >
        <p>
          The {skipping ? formatNumber(skipping.waiting) : 0} deliveries waiting
          behind delivery <span className="mono">{skipping?.deliveryId}</span>{" "}
          go on without it, out of order. It stays dead-lettered: you can still
          requeue it later.
        </p>
        <div className="field">
          <label htmlFor={reasonId}>Reason (optional, for the audit log)</label>
          <input
            id={reasonId}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            data-testid="skip-blocked-reason"
          />
        </div>
      </ConfirmDialog>
    </div>
  );
}
