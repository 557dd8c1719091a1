import { useId, useMemo, useState, type FormEvent } from "react";
import { useQuery } from "urql";
import { Link, useLocation } from "wouter";
import { Empty } from "../../components/Empty";
import { FilterBar, SelectFilter, TextFilter } from "../../components/Filters";
import { PageHeader } from "../../components/PageHeader";
import { Pager, usePager } from "../../components/Pager";
import { QueryResult } from "../../components/QueryResult";
import { Time } from "../../components/Time";
import type { MappingFieldsFragment } from "../../gql/graphql";
import { usePageTitle } from "../../lib/page";
import { useCan } from "../../lib/session";
import { useSearchParams, type SearchParamsProps } from "../../lib/url";
import { MappingStateBadge } from "./MappingStateBadge";
import { MAPPINGS_QUERY } from "./operations";

const EVENT_TYPE = /^[A-Za-z0-9_.-]{1,128}$/;
const SYSTEM_NAME = /^[a-z0-9_.-]{1,64}$/;

type GroupBy = "" | "eventType" | "targetSystem";

export function editorPath(eventType: string, targetSystem: string): string {
  return `/mappings/${encodeURIComponent(eventType)}/${encodeURIComponent(targetSystem)}`;
}

/** A program on one line, for a preview. */
function preview(program: string): string {
  const line = program.replace(/\s+/g, " ").trim();
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

/** `/mappings`: reads the query string and hands it down (see `useSearchParams`). */
export function MappingList() {
  const [params, setParams] = useSearchParams();
  return <Mappings params={params} setParams={setParams} />;
}

function Mappings({ params, setParams }: SearchParamsProps) {
  usePageTitle("Mappings");
  const canWrite = useCan("mappings:write");
  const pager = usePager(25);
  const view = params.view === "all" ? "all" : "live";
  const groupBy: GroupBy =
    params.group === "eventType" || params.group === "targetSystem"
      ? params.group
      : "";
  const filter = useMemo(
    () => ({
      liveOnly: view === "live",
      eventType: params.event?.trim() || undefined,
      targetSystem: params.target?.trim() || undefined,
    }),
    [view, params.event, params.target],
  );
  const [result, reexecute] = useQuery({
    query: MAPPINGS_QUERY,
    variables: { filter, ...pager.vars },
  });
  const rows = useMemo(
    () => result.data?.mappings.edges.map((e) => e.node) ?? [],
    [result.data],
  );
  const setFilter = (changes: Record<string, string>) => {
    pager.reset();
    setParams(changes);
  };
  const filtered = filter.eventType != null || filter.targetSystem != null;

  const groups = useMemo(() => {
    if (!groupBy) return [{ key: "", rows }];
    const map = new Map<string, MappingFieldsFragment[]>();
    for (const r of rows) {
      const k = r[groupBy];
      map.set(k, [...(map.get(k) ?? []), r]);
    }
    return [...map.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, rs]) => ({ key, rows: rs }));
  }, [rows, groupBy]);

  return (
    <>
      <PageHeader
        title="Mappings"
        description="jq programs that turn an event type's payload into what a target system receives."
      />
      {canWrite ? <NewMapping /> : null}

      <div className="tabs" role="tablist" aria-label="Which versions">
        {(["live", "all"] as const).map((v) => (
          <button
            key={v}
            type="button"
            role="tab"
            className="tab"
            aria-selected={view === v}
            onClick={() => setFilter({ view: v === "live" ? "" : "all" })}
            data-testid={`mappings-view-${v}`}
          >
            {v === "live" ? "Live mappings" : "All versions"}
          </button>
        ))}
      </div>

      <FilterBar label="Mapping filters">
        <TextFilter
          label="Event type"
          type="search"
          value={params.event ?? ""}
          placeholder="order.created"
          onChange={(v) => setFilter({ event: v })}
          testId="filter-event-type"
        />
        <TextFilter
          label="Target system"
          type="search"
          value={params.target ?? ""}
          placeholder="crm"
          onChange={(v) => setFilter({ target: v })}
          testId="filter-target-system"
        />
        <SelectFilter
          label="Group by"
          value={groupBy}
          anyLabel="No grouping"
          options={[
            { value: "eventType", label: "Event type" },
            { value: "targetSystem", label: "Target system" },
          ]}
          onChange={(v) => setParams({ group: v })}
          testId="mappings-group"
        />
        {filtered ? (
          <button
            type="button"
            className="btn btn-small filter-clear"
            onClick={() => setFilter({ event: "", target: "" })}
          >
            Clear filters
          </button>
        ) : null}
      </FilterBar>

      <QueryResult
        result={result}
        onRetry={() => reexecute({ requestPolicy: "network-only" })}
        loadingLabel="Loading mappings…"
      >
        {(data) =>
          rows.length === 0 ? (
            <Empty>
              {filtered
                ? "No mapping matches these filters."
                : view === "live"
                  ? "No live mapping: events are routed to no target system yet."
                  : "No mapping published yet."}
            </Empty>
          ) : (
            <>
              {groups.map((g) => (
                <div
                  key={g.key}
                  className={groupBy ? "mapping-group" : undefined}
                >
                  {groupBy ? (
                    <h2 className="group-title">
                      <span className="muted small">
                        {groupBy === "eventType"
                          ? "Event type"
                          : "Target system"}
                      </span>{" "}
                      <button
                        type="button"
                        className="btn-link"
                        onClick={() =>
                          setFilter(
                            groupBy === "eventType"
                              ? { event: g.key }
                              : { target: g.key },
                          )
                        }
                        title="Show only these"
                      >
                        {g.key}
                      </button>
                    </h2>
                  ) : null}
                  <MappingTable rows={g.rows} onFilter={setFilter} />
                </div>
              ))}
              <Pager
                pager={pager}
                pageInfo={data.mappings.pageInfo}
                label="Mapping pages"
              />
            </>
          )
        }
      </QueryResult>
    </>
  );
}

function MappingTable(props: {
  rows: MappingFieldsFragment[];
  onFilter: (c: Record<string, string>) => void;
}) {
  return (
    <div className="table-wrap">
      <table className="table mappings-table">
        <caption className="visually-hidden">Mappings</caption>
        <thead>
          <tr>
            <th scope="col">Event type</th>
            <th scope="col">Target system</th>
            <th scope="col">Version</th>
            <th scope="col">State</th>
            <th scope="col">Published</th>
            <th scope="col">Program</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((m) => (
            <tr key={m.id} data-testid="mapping-row" data-live={m.live}>
              <td data-label="Event type">
                <button
                  type="button"
                  className="btn-link mono"
                  onClick={() => props.onFilter({ event: m.eventType })}
                  title={`Only ${m.eventType}`}
                >
                  {m.eventType}
                </button>
              </td>
              <td data-label="Target system">
                <button
                  type="button"
                  className="btn-link mono"
                  onClick={() => props.onFilter({ target: m.targetSystem })}
                  title={`Only ${m.targetSystem}`}
                >
                  {m.targetSystem}
                </button>
              </td>
              <td data-label="Version">
                <Link
                  href={editorPath(m.eventType, m.targetSystem)}
                  className="strong-link"
                >
                  v{m.version}
                  <span className="visually-hidden">
                    {" "}
                    of {m.eventType} for {m.targetSystem}: open the editor
                  </span>
                </Link>
              </td>
              <td data-label="State">
                <MappingStateBadge mapping={m} />
              </td>
              <td data-label="Published">
                <Time value={m.publishedAt} />
              </td>
              <td data-label="Program">
                <code className="program-preview">{preview(m.program)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function NewMapping() {
  const id = useId();
  const [, navigate] = useLocation();
  const [open, setOpen] = useState(false);
  const [eventType, setEventType] = useState("");
  const [target, setTarget] = useState("");
  const [touched, setTouched] = useState(false);
  const etOk = EVENT_TYPE.test(eventType.trim());
  const tsOk = SYSTEM_NAME.test(target.trim());

  if (!open) {
    return (
      <p>
        <button
          type="button"
          className="btn btn-primary"
          onClick={() => setOpen(true)}
          data-testid="new-mapping"
        >
          New mapping
        </button>
      </p>
    );
  }
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (etOk && tsOk) navigate(editorPath(eventType.trim(), target.trim()));
  };
  return (
    <form
      className="card form new-mapping"
      onSubmit={submit}
      noValidate
      aria-labelledby={`${id}-t`}
    >
      <h2 id={`${id}-t`}>New mapping</h2>
      <p className="small muted">
        Pick the pair; the editor opens for it (with its versions, if it has
        some).
      </p>
      <div className="form-row">
        <div className="field grow">
          <label htmlFor={`${id}-et`}>Event type</label>
          <input
            id={`${id}-et`}
            value={eventType}
            placeholder="order.created"
            spellCheck={false}
            autoComplete="off"
            aria-invalid={touched && !etOk}
            aria-describedby={`${id}-et-h`}
            onChange={(e) => setEventType(e.target.value)}
            data-testid="new-mapping-event-type"
          />
          <span
            id={`${id}-et-h`}
            className={touched && !etOk ? "field-error" : "hint"}
          >
            Letters, digits, “_”, “.”, “-”.
          </span>
        </div>
        <div className="field grow">
          <label htmlFor={`${id}-ts`}>Target system</label>
          <input
            id={`${id}-ts`}
            value={target}
            placeholder="crm"
            spellCheck={false}
            autoComplete="off"
            aria-invalid={touched && !tsOk}
            aria-describedby={`${id}-ts-h`}
            onChange={(e) => setTarget(e.target.value)}
            data-testid="new-mapping-target-system"
          />
          <span
            id={`${id}-ts-h`}
            className={touched && !tsOk ? "field-error" : "hint"}
          >
            Lowercase letters, digits, “_”, “.”, “-”: an endpoint's system name.
          </span>
        </div>
      </div>
      <div className="form-actions">
        <button
          type="submit"
          className="btn btn-primary"
          data-testid="new-mapping-open"
        >
          Open the editor
        </button>
        <button type="button" className="btn" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
