import { useId, useState, type FormEvent } from "react";
import { useMutation, useQuery } from "urql";
import { Link } from "wouter";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Loading } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { StatusBadge } from "../../components/StatusBadge";
import { Time } from "../../components/Time";
import type { EndpointFieldsFragment } from "../../gql/graphql";
import { formatDuration, formatNumber } from "../../lib/format";
import { usePolling } from "../../lib/live";
import { usePageTitle } from "../../lib/page";
import { useCan } from "../../lib/session";
import { CircuitBadge, SuccessRate, disabledReasonText } from "./CircuitBadge";
import { DeliveryFeed } from "./DeliveryFeed";
import { OrderingPanel } from "./OrderingPanel";
import { errorField } from "./errors";
import {
  CHANGE_ENDPOINT_URL,
  DELETE_ENDPOINT,
  DISABLE_ENDPOINT,
  ENABLE_ENDPOINT,
  ENDPOINT_QUERY,
  ROTATE_ENDPOINT_SECRET,
} from "./operations";
import { isOlder } from "./endpointState";
import { describeRetrySchedule } from "./retrySchedule";
import { SecretReveal } from "./SecretReveal";

const GRACE_PERIODS: { secs: number; label: string }[] = [
  { secs: 0, label: "none: the old secret stops signing at once" },
  { secs: 3600, label: "1 hour" },
  { secs: 86_400, label: "24 hours (default)" },
  { secs: 3 * 86_400, label: "3 days" },
  { secs: 7 * 86_400, label: "7 days (the longest)" },
];

type Dialog = "rotate" | "disable" | "delete" | null;

export function EndpointDetail(props: { id: string }) {
  const [result, reexecute] = useQuery({
    query: ENDPOINT_QUERY,
    variables: { id: props.id },
  });
  usePolling(() => reexecute({ requestPolicy: "network-only" }), 10_000);
  // Keep showing the last endpoint read while a refresh fails.
  // A mutation's answer shows at once; the next read replaces it.
  const [endpoint, setEndpoint] = useState<EndpointFieldsFragment | null>(null);
  const [lastRead, setLastRead] = useState<EndpointFieldsFragment | null>(null);
  const fresh = result.data?.endpoint ?? null;
  if (fresh && fresh !== lastRead) {
    setLastRead(fresh);
    // A read older than the state shown (the read model behind a mutation's answer) waits.
    if (!endpoint || !isOlder(fresh, endpoint)) setEndpoint(fresh);
  }
  const reachable = !result.error?.networkError;
  usePageTitle(endpoint ? `Endpoint ${endpoint.systemName}` : "Endpoint");
  const canDeliveries = useCan("deliveries:read");

  if (!endpoint) {
    return (
      <>
        <PageHeader title="Endpoint" />
        <p>
          <Link href="/endpoints">← All endpoints</Link>
        </p>
        {result.error ? (
          <ErrorNotice
            error={result.error}
            onRetry={() => reexecute({ requestPolicy: "network-only" })}
          />
        ) : (
          <Loading label="Loading the endpoint…" />
        )}
      </>
    );
  }
  return (
    <>
      <p className="crumbs">
        <Link href="/endpoints">← All endpoints</Link>
      </p>
      <PageHeader
        title={endpoint.systemName}
        description={<span className="mono url-line">{endpoint.url}</span>}
      >
        <StatusBadge status={endpoint.status} testId="endpoint-status" />
      </PageHeader>
      {result.error && !result.error.networkError ? (
        <ErrorNotice error={result.error} />
      ) : null}
      {!reachable ? (
        <ErrorNotice
          error={result.error}
          title="Refreshing failed; showing the last state read"
        />
      ) : null}
      <EndpointBody
        endpoint={endpoint}
        onChanged={(e) => {
          setEndpoint(e);
          reexecute({ requestPolicy: "network-only" });
        }}
      />
      <OrderingPanel
        endpointId={endpoint.id}
        deleted={endpoint.status === "DELETED"}
      />
      {canDeliveries ? (
        <DeliveryFeed endpointId={endpoint.id} reachable={reachable} />
      ) : (
        <p className="muted section">
          The live deliveries need the <code>deliveries:read</code> scope.
        </p>
      )}
    </>
  );
}

function EndpointBody(props: {
  endpoint: EndpointFieldsFragment;
  onChanged: (e: EndpointFieldsFragment) => void;
}) {
  const { endpoint } = props;
  const canWrite = useCan("endpoints:write");
  const canMappings = useCan("mappings:read");
  const [dialog, setDialog] = useState<Dialog>(null);
  const [grace, setGrace] = useState(86_400);
  const [newSecret, setNewSecret] = useState<string | null>(null);
  const [rotateState, rotate] = useMutation(ROTATE_ENDPOINT_SECRET);
  const [disableState, disable] = useMutation(DISABLE_ENDPOINT);
  const [enableState, enable] = useMutation(ENABLE_ENDPOINT);
  const [deleteState, remove] = useMutation(DELETE_ENDPOINT);
  const graceId = useId();
  const deleted = endpoint.status === "DELETED";
  const actionError =
    rotateState.error ??
    disableState.error ??
    enableState.error ??
    deleteState.error;

  const run = async (
    op: () => Promise<{ data?: unknown; error?: unknown }>,
    pick: (data: unknown) => EndpointFieldsFragment | undefined,
  ) => {
    const res = await op();
    const e = res.data ? pick(res.data) : undefined;
    if (e) props.onChanged(e);
    setDialog(null);
    return res;
  };

  return (
    <>
      {newSecret ? (
        <SecretReveal
          title="New signing secret"
          secret={newSecret}
          onDone={() => setNewSecret(null)}
        >
          {endpoint.previousSecretExpiresAt ? (
            <p>
              The previous secret keeps signing too (both signatures are sent)
              until <Time value={endpoint.previousSecretExpiresAt} />.
            </p>
          ) : (
            <p>The previous secret no longer signs.</p>
          )}
        </SecretReveal>
      ) : null}

      <div className="grid endpoint-grid">
        <section className="card" aria-labelledby="ep-props">
          <h2 id="ep-props">Endpoint</h2>
          <dl className="props">
            <dt>Id</dt>
            <dd className="mono">{endpoint.id}</dd>
            <dt>Target system</dt>
            <dd>
              {canMappings ? (
                <Link
                  href={`/mappings?target=${encodeURIComponent(endpoint.systemName)}`}
                  title="Its mappings"
                >
                  {endpoint.systemName}
                </Link>
              ) : (
                endpoint.systemName
              )}
            </dd>
            <dt>Status</dt>
            <dd>
              <StatusBadge status={endpoint.status} />
              {endpoint.disabledReason ? (
                <span className="small" data-testid="endpoint-disabled-reason">
                  {" "}
                  {disabledReasonText(endpoint.disabledReason)}
                </span>
              ) : null}
            </dd>
            <dt>URL</dt>
            <dd>
              <ChangeUrl
                endpoint={endpoint}
                canWrite={canWrite && !deleted}
                onChanged={props.onChanged}
              />
            </dd>
            <dt>Timeout</dt>
            <dd>{formatDuration(endpoint.timeoutMs)} per attempt</dd>
            <dt>Retry schedule</dt>
            <dd>
              {describeRetrySchedule(endpoint.retrySchedule)}
              {endpoint.retrySchedule ? (
                <span className="muted small mono">
                  {" "}
                  ({endpoint.retrySchedule.join(", ")} s)
                </span>
              ) : null}
            </dd>
            {endpoint.previousSecretExpiresAt ? (
              <>
                <dt>Previous secret</dt>
                <dd>
                  signs until <Time value={endpoint.previousSecretExpiresAt} />
                </dd>
              </>
            ) : null}
            <dt>Registered</dt>
            <dd>
              <Time value={endpoint.createdAt} />
            </dd>
            <dt>Last changed</dt>
            <dd>
              <Time value={endpoint.updatedAt} />
            </dd>
          </dl>
        </section>

        <section className="card" aria-labelledby="ep-health">
          <h2 id="ep-health">Health</h2>
          <dl className="props">
            <dt>Circuit</dt>
            <dd>
              <CircuitBadge endpoint={endpoint} />
            </dd>
            <dt>Failed attempts</dt>
            <dd data-testid="endpoint-failed-attempts">
              {formatNumber(endpoint.failedAttempts)}
              <span className="muted small"> in the current streak</span>
            </dd>
            <dt>Success rate</dt>
            <dd>
              <SuccessRate rate={endpoint.successRate} />
              <div className="muted small">
                of its latest 1,000 attempted deliveries
              </div>
            </dd>
          </dl>
          {endpoint.status === "DISABLED" ? (
            <p className="small">
              Deliveries to it wait in the queue (nothing is dropped) until it
              is enabled.
            </p>
          ) : null}
        </section>
      </div>

      {canWrite && !deleted ? (
        <section className="section" aria-labelledby="ep-actions">
          <h2 id="ep-actions">Actions</h2>
          <div className="action-row">
            <button
              type="button"
              className="btn"
              onClick={() => setDialog("rotate")}
              data-testid="endpoint-rotate-secret"
            >
              Rotate secret
            </button>
            {endpoint.status === "ACTIVE" ? (
              <button
                type="button"
                className="btn"
                onClick={() => setDialog("disable")}
                data-testid="endpoint-disable"
              >
                Disable
              </button>
            ) : (
              <button
                type="button"
                className="btn"
                disabled={enableState.fetching}
                onClick={() =>
                  run(
                    () => enable({ id: endpoint.id }),
                    (d) =>
                      (d as { enableEndpoint?: EndpointFieldsFragment })
                        .enableEndpoint,
                  )
                }
                data-testid="endpoint-enable"
              >
                {enableState.fetching ? "Enabling…" : "Enable"}
              </button>
            )}
            <button
              type="button"
              className="btn btn-danger"
              onClick={() => setDialog("delete")}
              data-testid="endpoint-delete"
            >
              Delete
            </button>
          </div>
          <ErrorNotice error={actionError} />
        </section>
      ) : !canWrite ? (
        <p className="muted small section">
          Changing this endpoint needs the <code>endpoints:write</code> scope.
        </p>
      ) : null}

      <ConfirmDialog
        open={dialog === "rotate"}
        title="Rotate the signing secret?"
        confirmLabel="Rotate"
        busy={rotateState.fetching}
        testId="rotate-dialog"
        onCancel={() => setDialog(null)}
        onConfirm={async () => {
          const res = await rotate({ id: endpoint.id, gracePeriodSecs: grace });
          const out = res.data?.rotateEndpointSecret;
          if (out) {
            props.onChanged(out.endpoint);
            setNewSecret(out.secret);
          }
          setDialog(null);
        }}
      >
        <p>
          A new secret is generated and shown once. During the grace period both
          the old and the new secret sign each webhook, so the receiver can
          switch without rejecting any.
        </p>
        <div className="field">
          <label htmlFor={graceId}>Grace period</label>
          <select
            id={graceId}
            value={grace}
            onChange={(e) => setGrace(Number(e.target.value))}
            data-testid="rotate-grace"
          >
            {GRACE_PERIODS.map((g) => (
              <option key={g.secs} value={g.secs}>
                {g.label}
              </option>
            ))}
          </select>
        </div>
      </ConfirmDialog>

      <ConfirmDialog
        open={dialog === "disable"}
        title={`Disable ${endpoint.systemName}?`}
        confirmLabel="Disable"
        busy={disableState.fetching}
        testId="disable-dialog"
        onCancel={() => setDialog(null)}
        onConfirm={() =>
          run(
            () => disable({ id: endpoint.id }),
            (d) =>
              (d as { disableEndpoint?: EndpointFieldsFragment })
                .disableEndpoint,
          )
        }
      >
        <p>
          No webhook is sent to <span className="mono">{endpoint.url}</span>{" "}
          while it is disabled. Its deliveries, and events logged meanwhile,
          wait in the queue until it is enabled again: nothing is dropped.
        </p>
      </ConfirmDialog>

      <ConfirmDialog
        open={dialog === "delete"}
        title={`Delete ${endpoint.systemName}?`}
        confirmLabel="Delete for good"
        danger
        busy={deleteState.fetching}
        testId="delete-dialog"
        onCancel={() => setDialog(null)}
        onConfirm={() =>
          run(
            () => remove({ id: endpoint.id }),
            (d) =>
              (d as { deleteEndpoint?: EndpointFieldsFragment }).deleteEndpoint,
          )
        }
      >
        <p>
          Deleting cannot be undone. Events logged from now on are not routed to{" "}
          <span className="mono">{endpoint.url}</span>.
        </p>
      </ConfirmDialog>
    </>
  );
}

function ChangeUrl(props: {
  endpoint: EndpointFieldsFragment;
  canWrite: boolean;
  onChanged: (e: EndpointFieldsFragment) => void;
}) {
  const id = useId();
  const [editing, setEditing] = useState(false);
  const [url, setUrl] = useState(props.endpoint.url);
  const [state, change] = useMutation(CHANGE_ENDPOINT_URL);
  const valid = /^https?:\/\/\S+$/i.test(url.trim());

  if (!editing) {
    return (
      <span className="url-view">
        <span className="mono" data-testid="endpoint-url-value">
          {props.endpoint.url}
        </span>
        {props.canWrite ? (
          <button
            type="button"
            className="btn btn-small"
            onClick={() => {
              setUrl(props.endpoint.url);
              setEditing(true);
            }}
            data-testid="endpoint-change-url"
          >
            Change
          </button>
        ) : null}
      </span>
    );
  }
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!valid) return;
    const res = await change({ id: props.endpoint.id, url: url.trim() });
    if (res.data?.changeEndpointUrl) {
      props.onChanged(res.data.changeEndpointUrl);
      setEditing(false);
    }
  };
  return (
    <form className="inline-form" onSubmit={submit}>
      <label htmlFor={id} className="visually-hidden">
        New URL
      </label>
      <input
        id={id}
        type="url"
        value={url}
        autoFocus
        spellCheck={false}
        aria-invalid={!valid || errorField(state.error) === "url"}
        onChange={(e) => setUrl(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") setEditing(false);
        }}
        data-testid="endpoint-url-input"
      />
      <div className="form-actions">
        <button
          type="submit"
          className="btn btn-primary btn-small"
          disabled={
            !valid || state.fetching || url.trim() === props.endpoint.url
          }
          data-testid="endpoint-url-save"
        >
          {state.fetching ? "Saving…" : "Save"}
        </button>
        <button
          type="button"
          className="btn btn-small"
          onClick={() => setEditing(false)}
        >
          Cancel
        </button>
      </div>
      <ErrorNotice error={state.error} title="URL not changed" />
    </form>
  );
}
