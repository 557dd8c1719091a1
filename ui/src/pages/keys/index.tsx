import { createColumnHelper } from "@tanstack/react-table";
import { useCallback, useId, useMemo, useState } from "react";
import { useMutation, useQuery } from "urql";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { CopyButton } from "../../components/CopyButton";
import { ErrorNotice } from "../../components/ErrorNotice";
import { FilterBar, SelectFilter } from "../../components/Filters";
import { PageHeader } from "../../components/PageHeader";
import { PagedTable } from "../../components/PagedTable";
import { usePager } from "../../components/Pager";
import { QueryResult } from "../../components/QueryResult";
import { StatusBadge } from "../../components/StatusBadge";
import { Time } from "../../components/Time";
import type { ApiKeyStatus, ApiKeysQuery } from "../../gql/graphql";
import { formatNumber } from "../../lib/format";
import { usePageTitle, type PageProps } from "../../lib/page";
import { useSession } from "../../lib/session";
import { useSearchParams, type SearchParamsProps } from "../../lib/url";
import { IssueKeyForm, type IssuedKey } from "./IssueKeyForm";
import { API_KEYS, REVOKE_KEY } from "./queries";

type Key = ApiKeysQuery["apiKeys"]["edges"][number]["node"];

const STATUSES: ApiKeyStatus[] = ["ACTIVE", "REVOKED"];

const column = createColumnHelper<Key>();

/** `/keys`: reads the query string and hands it down (see `useSearchParams`). */
export default function KeysPage(_props: PageProps) {
  const [params, setParams] = useSearchParams();
  return <KeysList params={params} setParams={setParams} />;
}

function KeysList({ params, setParams }: SearchParamsProps) {
  usePageTitle("API keys");
  const { viewer } = useSession();
  const status = STATUSES.find((s) => s === params.status);
  const pager = usePager(20);
  const variables = useMemo(
    () => ({ ...pager.vars, filter: { status: status ?? null } }),
    [pager.vars, status],
  );
  const [list, refetch] = useQuery({ query: API_KEYS, variables });
  const refresh = useCallback(
    () => refetch({ requestPolicy: "network-only" }),
    [refetch],
  );
  const keys = useMemo(
    () => list.data?.apiKeys.edges.map((e) => e.node) ?? [],
    [list.data],
  );

  const [issuing, setIssuing] = useState(false);
  const [issued, setIssued] = useState<IssuedKey | null>(null);
  const [revoking, setRevoking] = useState<Key | null>(null);

  const columns = useMemo(
    () => [
      column.accessor("name", {
        header: "Name",
        cell: (c) => (
          <>
            <strong>{c.getValue()}</strong>
            {c.row.original.id === viewer.id ? (
              <span className="badge badge-info you">you</span>
            ) : null}
            <div className="mono muted small">{c.row.original.prefix}…</div>
          </>
        ),
      }),
      column.accessor("status", {
        header: "Status",
        cell: (c) => <StatusBadge status={c.getValue()} />,
      }),
      column.accessor("permissions", {
        header: "Permissions",
        cell: (c) => (
          <ul className="chips" aria-label="Permissions">
            {c.getValue().map((p) => (
              <li key={p} className="chip">
                {p}
              </li>
            ))}
          </ul>
        ),
      }),
      column.accessor("rateLimitPerMinute", {
        header: "Rate limit",
        cell: (c) => {
          const v = c.getValue();
          return v == null ? (
            <span className="muted">default</span>
          ) : (
            `${formatNumber(v)}/min`
          );
        },
      }),
      column.accessor("lastUsedAt", {
        header: "Last used",
        cell: (c) => <Time value={c.getValue()} relative empty="never" />,
      }),
      column.accessor("createdAt", {
        header: "Issued",
        cell: (c) => <Time value={c.getValue()} />,
      }),
      column.display({
        id: "actions",
        header: () => <span className="visually-hidden">Actions</span>,
        cell: (c) => {
          const k = c.row.original;
          if (k.status === "REVOKED") {
            return (
              <span className="muted small">
                revoked <Time value={k.revokedAt} />
              </span>
            );
          }
          return (
            <button
              type="button"
              className="btn btn-small"
              aria-label={`Revoke ${k.name}`}
              onClick={() => setRevoking(k)}
              data-testid="revoke-key"
            >
              Revoke
            </button>
          );
        },
      }),
    ],
    [viewer.id],
  );

  return (
    <>
      <PageHeader
        title="API keys"
        description="Keys are shown once, when issued; only their prefix is kept."
      >
        {issuing ? null : (
          <button
            type="button"
            className="btn btn-primary"
            onClick={() => {
              setIssued(null);
              setIssuing(true);
            }}
            data-testid="issue-key"
          >
            Issue API key
          </button>
        )}
      </PageHeader>

      {issued ? (
        <NewKey issued={issued} onDone={() => setIssued(null)} />
      ) : null}
      {issuing ? (
        <IssueKeyForm
          onCancel={() => setIssuing(false)}
          onIssued={(k) => {
            setIssuing(false);
            setIssued(k);
            refresh();
          }}
        />
      ) : null}

      <section className="section" aria-labelledby="keys-list">
        <h2 id="keys-list" className="visually-hidden">
          All keys
        </h2>
        <FilterBar>
          <SelectFilter
            label="Status"
            value={status ?? ""}
            options={[
              { value: "ACTIVE", label: "Active" },
              { value: "REVOKED", label: "Revoked" },
            ]}
            onChange={(v) => {
              pager.reset();
              setParams({ status: v });
            }}
            testId="key-status-filter"
          />
        </FilterBar>
        <QueryResult result={list} onRetry={refresh}>
          {(data) => (
            <PagedTable
              columns={columns}
              data={keys}
              getRowId={(k) => k.id}
              caption="API keys"
              rowTestId="key-row"
              empty={status ? "No key has this status." : "No API keys."}
              pager={pager}
              pageInfo={data.apiKeys.pageInfo}
              pagerLabel="API key pages"
            />
          )}
        </QueryResult>
      </section>

      {revoking ? (
        <RevokeDialog
          apiKey={revoking}
          isSelf={revoking.id === viewer.id}
          onClose={() => setRevoking(null)}
          onRevoked={() => {
            setRevoking(null);
            refresh();
          }}
        />
      ) : null}
    </>
  );
}

/** The clear key, shown this once. */
function NewKey(props: { issued: IssuedKey; onDone: () => void }) {
  return (
    <section
      className="notice notice-warning new-key"
      aria-labelledby="new-key-title"
      data-testid="new-key-panel"
    >
      <div className="new-key-body">
        <h2 id="new-key-title">Key “{props.issued.name}” issued</h2>
        <p role="alert">
          <strong>Copy it now: it is never shown again.</strong> Only its prefix{" "}
          <code>{props.issued.prefix}</code> is kept to recognise it by.
        </p>
        <div className="secret">
          <code data-testid="new-key">{props.issued.key}</code>
          <CopyButton
            text={props.issued.key}
            label="Copy key"
            testId="copy-key"
          />
        </div>
        <div className="form-actions">
          <button type="button" className="btn" onClick={props.onDone}>
            I have stored it
          </button>
        </div>
      </div>
    </section>
  );
}

function RevokeDialog(props: {
  apiKey: Key;
  isSelf: boolean;
  onClose: () => void;
  onRevoked: () => void;
}) {
  const [reason, setReason] = useState("");
  const [revoke, runRevoke] = useMutation(REVOKE_KEY);
  const reasonId = useId();
  const confirm = async () => {
    const res = await runRevoke({ id: props.apiKey.id, reason: reason.trim() });
    if (res.data) props.onRevoked();
  };
  return (
    <ConfirmDialog
      open
      title={`Revoke “${props.apiKey.name}”?`}
      confirmLabel="Revoke"
      danger
      busy={revoke.fetching}
      confirmDisabled={reason.trim() === ""}
      onConfirm={confirm}
      onCancel={props.onClose}
      testId="revoke-dialog"
    >
      <p>
        The key <code>{props.apiKey.prefix}…</code> stops authenticating at
        once, for good.
      </p>
      {props.isSelf ? (
        <p className="notice notice-warning">
          This is the key you are signed in with: you will be signed out.
        </p>
      ) : null}
      <div className="field">
        <label htmlFor={reasonId}>Reason (recorded in the audit log)</label>
        <textarea
          id={reasonId}
          rows={3}
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          required
          data-testid="revoke-reason"
        />
      </div>
      <ErrorNotice error={revoke.error} title="The key was not revoked" />
    </ConfirmDialog>
  );
}
