import { useCallback, useMemo, useState } from "react";
import { useMutation, useQuery } from "urql";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { type ColumnDef } from "../../components/DataTable";
import { ErrorNotice } from "../../components/ErrorNotice";
import { PagedTable } from "../../components/PagedTable";
import { QueryResult } from "../../components/QueryResult";
import { StatusBadge } from "../../components/StatusBadge";
import { Time } from "../../components/Time";
import type { DeadLettersPageQuery } from "../../gql/graphql";
import { formatLocal } from "../../lib/format";
import { usePolling } from "../../lib/live";
import { useCan } from "../../lib/session";
import { FilterForm, type FieldDef } from "../../components/FilterForm";
import { type EndpointNames } from "./endpoints";
import { DEAD_LETTER_FILTERS, replayInputFor } from "./logic";
import { DEAD_LETTERS_QUERY, REPLAY_MUTATION } from "./operations";
import { ReplayPanel } from "./ReplayPanel";
import { RequeueButton } from "./RequeueButton";
import { useRowNavigation } from "../../lib/rowNavigation";
import { linkColumns, ListToolbar, useTabList, type TabProps } from "./tabList";

type Row = DeadLettersPageQuery["deadLetters"]["edges"][number]["node"];

/** After a requeue, read the list again this often for a while (the read models follow). */
const AFTER_ACTION_POLL_MS = 2000;
const AFTER_ACTION_MS = 10000;

const BASE_FIELDS: readonly FieldDef<keyof typeof DEAD_LETTER_FILTERS>[] = [
  {
    key: "requeued",
    label: "State",
    input: "select",
    options: [
      { value: "false", label: "Open (not requeued)" },
      { value: "true", label: "Requeued" },
    ],
  },
  {
    key: "eventType",
    label: "Event type",
    input: "text",
    placeholder: "order.created",
  },
  { key: "eventId", label: "Event id", input: "text" },
  { key: "from", label: "Dead-lettered from", input: "datetime" },
  { key: "to", label: "Dead-lettered before", input: "datetime" },
];

function columns(
  names: EndpointNames,
  onRequeued: () => void,
): ColumnDef<Row>[] {
  return [
    {
      id: "createdAt",
      header: "Dead-lettered",
      cell: ({ row }) => <Time value={row.original.createdAt} />,
    },
    ...linkColumns<Row>(names, {
      columnId: "delivery",
      deliveryId: (r) => r.deliveryId,
    }),
    {
      id: "reason",
      header: "Reason",
      cell: ({ row }) => <span className="break">{row.original.reason}</span>,
    },
    {
      id: "state",
      header: "State",
      cell: ({ row }) =>
        row.original.requeuedAt ? (
          <span data-state="requeued">
            <StatusBadge status="Requeued" tone="info" />
            <span className="cell-error">
              <Time value={row.original.requeuedAt} />
            </span>
          </span>
        ) : (
          <span data-state="open">
            <StatusBadge status="Open" tone="danger" />
          </span>
        ),
    },
    {
      id: "action",
      header: "Action",
      cell: ({ row }) =>
        row.original.requeuedAt ? null : (
          <RequeueButton
            deliveryId={row.original.deliveryId}
            small
            onRequeued={onRequeued}
          />
        ),
    },
  ];
}

/**
 * The dead letters tab: every time a delivery was given up on, newest first,
 * open or requeued; requeue one, or replay every open one the filter matches
 * as a sync job.
 */
export function DeadLettersTab(props: TabProps) {
  const { search, go } = props;
  const { values, pager, names, fields, apply, filter, filtered } = useTabList(
    DEAD_LETTER_FILTERS,
    BASE_FIELDS,
    props,
  );
  const canReplay = useCan("deliveries:write", "jobs:write");
  const canRequeue = useCan("deliveries:write");
  const [result, reexecute] = useQuery({
    query: DEAD_LETTERS_QUERY,
    variables: { filter, ...pager.vars },
  });
  const { data } = result;
  const refresh = useCallback(
    () => reexecute({ requestPolicy: "network-only" }),
    [reexecute],
  );
  const [busyUntil, setBusyUntil] = useState(0);
  const [now, setNow] = useState(0);
  usePolling(
    () => {
      setNow(Date.now());
      refresh();
    },
    now < busyUntil ? AFTER_ACTION_POLL_MS : null,
  );
  const afterAction = useCallback(() => {
    const t = Date.now();
    setNow(t);
    setBusyUntil(t + AFTER_ACTION_MS);
    refresh();
  }, [refresh]);

  const cols = useMemo(() => {
    const all = columns(names, afterAction);
    return canRequeue ? all : all.filter((c) => c.id !== "action");
  }, [names, afterAction, canRequeue]);
  const onRowClick = useRowNavigation((id) => {
    const row = data?.deadLetters.edges.find((e) => e.node.id === id)?.node;
    return row ? `/deliveries/${row.deliveryId}` : null;
  });

  // Bulk replay of the current filter.
  const params = new URLSearchParams(search);
  const jobId = params.get("replayJob");
  const setJob = (id: string | null) => {
    const next = new URLSearchParams(search);
    if (id) next.set("replayJob", id);
    else next.delete("replayJob");
    go(next.toString(), { replace: true });
  };
  const { input, unsupported } = replayInputFor(values);
  const [confirming, setConfirming] = useState(false);
  const [replay, startReplay] = useMutation(REPLAY_MUTATION);

  return (
    <>
      <FilterForm
        key={search}
        fields={fields}
        values={values}
        label="Dead letter filters"
        testIdPrefix="dead-letter-filter"
        onApply={apply}
      />
      {jobId ? (
        <ReplayPanel
          key={jobId}
          jobId={jobId}
          onFinished={afterAction}
          onDismiss={() => setJob(null)}
        />
      ) : null}
      <ListToolbar
        note="Newest first; one row per time a delivery was dead-lettered."
        fetching={result.fetching}
        onRefresh={refresh}
      >
        {canReplay ? (
          <button
            type="button"
            className="btn btn-small btn-primary"
            data-testid="replay-dead-letters"
            disabled={unsupported.length > 0 || replay.fetching}
            title={
              unsupported.length > 0
                ? "A bulk replay cannot filter by event id: requeue this event's deliveries one by one, or clear the event id filter."
                : undefined
            }
            onClick={() => setConfirming(true)}
          >
            Replay matching…
          </button>
        ) : null}
      </ListToolbar>
      {canReplay && unsupported.length > 0 ? (
        <p className="muted small-note" data-testid="replay-unsupported">
          A bulk replay cannot filter by event id: requeue this event&apos;s
          dead letters one by one, or clear the event id filter to replay.
        </p>
      ) : null}
      {replay.error ? (
        <ErrorNotice error={replay.error} title="Replay" />
      ) : null}
      <QueryResult
        result={result}
        onRetry={refresh}
        loadingLabel="Loading dead letters…"
      >
        {(data) => (
          <PagedTable
            columns={cols}
            data={data.deadLetters.edges.map((e) => e.node)}
            getRowId={(r) => r.id}
            caption="Dead letters"
            rowTestId="dead-letter-row"
            empty={
              filtered
                ? "No dead letter matches these filters."
                : "No dead letters: nothing has been given up on."
            }
            pager={pager}
            pageInfo={data.deadLetters.pageInfo}
            pagerLabel="Dead letter pages"
            onRowClick={onRowClick}
            refreshing={result.fetching}
          />
        )}
      </QueryResult>
      <ConfirmDialog
        open={confirming}
        title="Replay dead letters"
        confirmLabel="Replay"
        busy={replay.fetching}
        testId="replay-dialog"
        onCancel={() => setConfirming(false)}
        onConfirm={async () => {
          const res = await startReplay(
            { filter: input },
            { additionalTypenames: ["DeadLetter", "Delivery"] },
          );
          setConfirming(false);
          if (res.data) setJob(res.data.replayDeadLetters.id);
        }}
      >
        <p>
          Every <strong>open</strong> dead letter matching these criteria is put
          back in the queue, due now, as a sync job:
        </p>
        <ul className="dialog-criteria" data-testid="replay-criteria">
          {input.endpointId ? (
            <li>
              endpoint <code>{input.endpointId}</code>
              {names.get(input.endpointId)
                ? ` (${names.get(input.endpointId)!.systemName})`
                : ""}
            </li>
          ) : null}
          {input.eventType ? (
            <li>
              event type <code>{input.eventType}</code>
            </li>
          ) : null}
          {input.from ? (
            <li>dead-lettered from {formatLocal(String(input.from))}</li>
          ) : null}
          {input.to ? (
            <li>dead-lettered before {formatLocal(String(input.to))}</li>
          ) : null}
          {!input.endpointId && !input.eventType && !input.from && !input.to ? (
            <li>
              <strong>all open dead letters</strong> (no filter)
            </li>
          ) : null}
        </ul>
        {values.requeued === "true" ? (
          <p className="muted">
            The list shows requeued dead letters; the replay takes only open
            ones.
          </p>
        ) : null}
      </ConfirmDialog>
    </>
  );
}
