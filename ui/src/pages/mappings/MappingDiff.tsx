import { Fragment, useMemo, useState } from "react";
import { formatNumber } from "../../lib/format";
import { diffMarker, hunks, lineDiff, type DiffRow } from "./diffModel";

const KIND_TEXT = {
  added: "added",
  removed: "removed",
  same: "unchanged",
} as const;

/** A line diff of two programs: +/- markers and colours, unchanged runs folded. */
export function MappingDiff(props: {
  fromLabel: string;
  toLabel: string;
  from: string;
  to: string;
}) {
  const diff = useMemo(
    () => lineDiff(props.from, props.to),
    [props.from, props.to],
  );
  const [all, setAll] = useState(false);
  const folded = useMemo(() => hunks(diff.rows, 3), [diff.rows]);
  const identical = diff.added === 0 && diff.removed === 0;
  const hasFolds =
    folded.skippedAfter > 0 || folded.hunks.some((h) => h.skippedBefore > 0);

  return (
    <div className="diff" data-testid="mapping-diff">
      <div className="diff-head">
        <span>
          <span className="diff-label diff-label-removed">
            <span aria-hidden="true">− </span>
            {props.fromLabel}
          </span>{" "}
          →{" "}
          <span className="diff-label diff-label-added">
            <span aria-hidden="true">+ </span>
            {props.toLabel}
          </span>
        </span>
        <span className="diff-stats small" data-testid="mapping-diff-stats">
          {identical ? (
            "identical"
          ) : (
            <>
              <span className="diff-stat-added">
                +{formatNumber(diff.added)}
              </span>{" "}
              <span className="diff-stat-removed">
                −{formatNumber(diff.removed)}
              </span>{" "}
              <span className="visually-hidden">
                {diff.added} lines added, {diff.removed} removed
              </span>
            </>
          )}
        </span>
        {hasFolds && !identical ? (
          <button
            type="button"
            className="btn btn-small"
            aria-pressed={all}
            onClick={() => setAll(!all)}
          >
            {all ? "Only changes" : "All lines"}
          </button>
        ) : null}
      </div>
      {identical ? (
        <p className="muted small diff-identical">
          The two programs are the same.
        </p>
      ) : (
        <div className="diff-scroll">
          <table className="diff-table">
            <caption className="visually-hidden">
              Changes from {props.fromLabel} to {props.toLabel}
            </caption>
            <thead className="visually-hidden">
              <tr>
                <th scope="col">Line in {props.fromLabel}</th>
                <th scope="col">Line in {props.toLabel}</th>
                <th scope="col">Change</th>
                <th scope="col">Text</th>
              </tr>
            </thead>
            <tbody>
              {all
                ? diff.rows.map((r, i) => <Row key={i} row={r} />)
                : folded.hunks.map((h, i) => (
                    <Fragment key={i}>
                      {h.skippedBefore > 0 ? (
                        <Fold count={h.skippedBefore} />
                      ) : null}
                      {h.rows.map((r, j) => (
                        <Row key={j} row={r} />
                      ))}
                    </Fragment>
                  ))}
              {!all && folded.skippedAfter > 0 ? (
                <Fold count={folded.skippedAfter} />
              ) : null}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function Row({ row }: { row: DiffRow }) {
  return (
    <tr className={`diff-row diff-${row.kind}`} data-kind={row.kind}>
      <td className="diff-no">{row.oldNo ?? ""}</td>
      <td className="diff-no">{row.newNo ?? ""}</td>
      <td className="diff-marker">
        <span aria-hidden="true">{diffMarker(row.kind)}</span>
        <span className="visually-hidden">{KIND_TEXT[row.kind]}</span>
      </td>
      <td className="diff-text">{row.text || " "}</td>
    </tr>
  );
}

function Fold({ count }: { count: number }) {
  return (
    <tr className="diff-fold">
      <td colSpan={4}>
        ⋯ {formatNumber(count)} unchanged {count === 1 ? "line" : "lines"}
      </td>
    </tr>
  );
}
