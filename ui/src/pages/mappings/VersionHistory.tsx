import { useEffect, useId, useState } from "react";
import { useQuery } from "urql";
import { Empty } from "../../components/Empty";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Loading } from "../../components/Loading";
import { Pager, usePager } from "../../components/Pager";
import { Time } from "../../components/Time";
import type { MappingFieldsFragment } from "../../gql/graphql";
import { MappingDiff } from "./MappingDiff";
import { MappingStateBadge } from "./MappingStateBadge";
import { MAPPING_VERSIONS_QUERY } from "./operations";

/** What one side of the diff shows: a published version, or the editor's text. */
type Side =
  { kind: "version"; mapping: MappingFieldsFragment } | { kind: "editor" };

function sideLabel(s: Side): string {
  return s.kind === "editor" ? "editor (unpublished)" : `v${s.mapping.version}`;
}

/**
 * Every version of one mapping (server paging), newest first, and a diff between
 * any two of them (or a version and the editor's text).
 */
export function VersionHistory(props: {
  eventType: string;
  targetSystem: string;
  editorText: string;
  /** Changes after a publish or a retire: the list is read again. */
  refreshKey: number;
  onLoad: (m: MappingFieldsFragment) => void;
}) {
  const id = useId();
  const pager = usePager(20);
  const [result, reexecute] = useQuery({
    query: MAPPING_VERSIONS_QUERY,
    variables: {
      eventType: props.eventType,
      targetSystem: props.targetSystem,
      ...pager.vars,
    },
  });
  const { refreshKey } = props;
  useEffect(() => {
    if (refreshKey > 0) reexecute({ requestPolicy: "network-only" });
  }, [refreshKey, reexecute]);
  const versions = result.data?.mappings.edges.map((e) => e.node) ?? [];
  const [from, setFrom] = useState<Side | null>(null);
  const [to, setTo] = useState<Side | null>(null);

  // By default: the previous version against the latest one; with a single
  // version, that version against the editor.
  const latest = versions[0];
  const previous = versions[1];
  const effFrom: Side | null =
    from ??
    (previous
      ? { kind: "version", mapping: previous }
      : latest
        ? { kind: "version", mapping: latest }
        : null);
  const effTo: Side | null =
    to ??
    (previous && latest
      ? { kind: "version", mapping: latest }
      : latest
        ? { kind: "editor" }
        : null);
  const isFrom = (m: MappingFieldsFragment) =>
    effFrom?.kind === "version" && effFrom.mapping.id === m.id;
  const isTo = (m: MappingFieldsFragment) =>
    effTo?.kind === "version" && effTo.mapping.id === m.id;
  const text = (s: Side) =>
    s.kind === "editor" ? props.editorText : s.mapping.program;

  return (
    <section className="section" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Version history</h2>
      <ErrorNotice
        error={result.error}
        onRetry={() => reexecute({ requestPolicy: "network-only" })}
      />
      {result.fetching && !result.data ? (
        <Loading label="Loading versions…" />
      ) : result.data && versions.length === 0 ? (
        <Empty>
          No version published yet: publish the program to create version 1.
        </Empty>
      ) : result.data ? (
        <>
          <div className="table-wrap">
            <table className="table versions-table">
              <caption className="visually-hidden">
                Versions of {props.eventType} for {props.targetSystem}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">State</th>
                  <th scope="col">Published</th>
                  <th scope="col">Retired</th>
                  <th scope="col">
                    Compare <span className="muted">(− / +)</span>
                  </th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {versions.map((m) => (
                  <tr
                    key={m.id}
                    data-testid={`mapping-version-${m.version}`}
                    data-live={m.live}
                  >
                    <td data-label="Version">
                      <strong>v{m.version}</strong>
                    </td>
                    <td data-label="State">
                      <MappingStateBadge mapping={m} />
                    </td>
                    <td data-label="Published">
                      <Time value={m.publishedAt} />
                    </td>
                    <td data-label="Retired">
                      <Time value={m.retiredAt} />
                    </td>
                    <td data-label="Compare">
                      <span className="compare-pick">
                        <label className="pick">
                          <input
                            type="radio"
                            name={`${id}-from`}
                            checked={isFrom(m)}
                            onChange={() =>
                              setFrom({ kind: "version", mapping: m })
                            }
                            aria-label={`Compare from v${m.version}`}
                          />
                          <span aria-hidden="true">−</span>
                        </label>
                        <label className="pick">
                          <input
                            type="radio"
                            name={`${id}-to`}
                            checked={isTo(m)}
                            onChange={() =>
                              setTo({ kind: "version", mapping: m })
                            }
                            aria-label={`Compare to v${m.version}`}
                          />
                          <span aria-hidden="true">+</span>
                        </label>
                      </span>
                    </td>
                    <td data-label="">
                      <button
                        type="button"
                        className="btn btn-small"
                        onClick={() => props.onLoad(m)}
                        data-testid={`load-version-${m.version}`}
                      >
                        Load into editor
                      </button>
                    </td>
                  </tr>
                ))}
                <tr className="versions-editor-row">
                  <td data-label="Version">
                    <em>Editor</em>
                  </td>
                  <td data-label="State" colSpan={3}>
                    <span className="muted small">
                      the program being edited, unpublished
                    </span>
                  </td>
                  <td data-label="Compare">
                    <span className="compare-pick">
                      <span className="pick pick-none" aria-hidden="true">
                        <input type="radio" disabled tabIndex={-1} />
                        <span>−</span>
                      </span>
                      <label className="pick">
                        <input
                          type="radio"
                          name={`${id}-to`}
                          checked={effTo?.kind === "editor"}
                          onChange={() => setTo({ kind: "editor" })}
                          aria-label="Compare to the editor"
                        />
                        <span aria-hidden="true">+</span>
                      </label>
                    </span>
                  </td>
                  <td />
                </tr>
              </tbody>
            </table>
          </div>
          <Pager
            pager={pager}
            pageInfo={result.data.mappings.pageInfo}
            label="Version pages"
          />
          {effFrom && effTo ? (
            <div className="section">
              <h3>Changes</h3>
              <MappingDiff
                fromLabel={sideLabel(effFrom)}
                toLabel={sideLabel(effTo)}
                from={text(effFrom)}
                to={text(effTo)}
              />
            </div>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
