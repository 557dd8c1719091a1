import { useState } from "react";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * JSON as a collapsible tree. Every toggle is a button (keyboard-operable,
 * aria-expanded); levels deeper than `openDepth` start collapsed.
 */
export function JsonView(props: {
  value: unknown;
  openDepth?: number;
  label?: string;
}) {
  return (
    <div className="json" role="group" aria-label={props.label ?? "JSON"}>
      <Node
        value={props.value as Json}
        depth={0}
        openDepth={props.openDepth ?? 2}
        last
      />
    </div>
  );
}

function Scalar({ value }: { value: Json }) {
  if (value === null) return <span className="json-null">null</span>;
  if (typeof value === "string")
    return <span className="json-string">{JSON.stringify(value)}</span>;
  if (typeof value === "number")
    return <span className="json-number">{String(value)}</span>;
  if (typeof value === "boolean")
    return <span className="json-bool">{String(value)}</span>;
  return <span>{JSON.stringify(value)}</span>;
}

function Node(props: {
  name?: string;
  value: Json;
  depth: number;
  openDepth: number;
  last: boolean;
}) {
  const { value, depth } = props;
  const isArray = Array.isArray(value);
  const isObject = value !== null && typeof value === "object";
  const [open, setOpen] = useState(depth < props.openDepth);
  const comma = props.last ? "" : ",";
  const key =
    props.name !== undefined ? (
      <span className="json-key">{JSON.stringify(props.name)}: </span>
    ) : null;

  if (!isObject) {
    return (
      <div className="json-line">
        {key}
        <Scalar value={value} />
        {comma}
      </div>
    );
  }
  const entries: [string | undefined, Json][] = isArray
    ? (value as Json[]).map((v) => [undefined, v])
    : Object.entries(value as Record<string, Json>);
  const [o, c] = isArray ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) {
    return (
      <div className="json-line">
        {key}
        {o}
        {c}
        {comma}
      </div>
    );
  }
  const summary = isArray
    ? `${entries.length} items`
    : `${entries.length} keys`;
  return (
    <div className="json-node">
      <div className="json-line">
        <button
          type="button"
          className="json-toggle"
          aria-expanded={open}
          aria-label={`${open ? "Collapse" : "Expand"} ${props.name ?? (isArray ? "array" : "object")}`}
          onClick={() => setOpen(!open)}
        >
          {open ? "▾" : "▸"}
        </button>
        {key}
        {o}
        {open ? null : (
          <>
            <span className="json-summary"> {summary} </span>
            {c}
            {comma}
          </>
        )}
      </div>
      {open ? (
        <>
          <div className="json-children">
            {entries.map(([k, v], i) => (
              <Node
                key={k ?? i}
                name={k}
                value={v}
                depth={depth + 1}
                openDepth={props.openDepth}
                last={i === entries.length - 1}
              />
            ))}
          </div>
          <div className="json-line">
            {c}
            {comma}
          </div>
        </>
      ) : null}
    </div>
  );
}
