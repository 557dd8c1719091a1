import { useMemo } from "react";
import type { FieldDef } from "../../components/FilterForm";
import { useQuery } from "urql";
import { Link } from "wouter";
import { useCan } from "../../lib/session";
import { ENDPOINT_NAMES_QUERY } from "./operations";

export interface EndpointInfo {
  systemName: string;
  url: string;
  status: string;
}

export type EndpointNames = ReadonlyMap<string, EndpointInfo>;

const NONE: EndpointNames = new Map();

/**
 * The endpoints' system names and URLs by id (the newest 100 endpoints; with
 * `endpoints:read` only), to label endpoint ids in lists.
 */
export function useEndpointNames(): EndpointNames {
  const canRead = useCan("endpoints:read");
  const [{ data }] = useQuery({
    query: ENDPOINT_NAMES_QUERY,
    pause: !canRead,
    requestPolicy: "cache-first",
  });
  return useMemo(() => {
    if (!data) return NONE;
    return new Map(
      data.endpoints.nodes.map((e) => [
        e.id,
        { systemName: e.systemName, url: e.url, status: e.status },
      ]),
    );
  }, [data]);
}

/** An endpoint id as a link to its page, named by its system when known. */
export function EndpointLabel(props: { id: string; names: EndpointNames }) {
  const canRead = useCan("endpoints:read");
  const info = props.names.get(props.id);
  const href = `/endpoints/${props.id}`;
  if (!canRead) return <span className="mono">{props.id}</span>;
  if (!info) {
    return (
      <Link href={href} className="mono">
        {props.id}
      </Link>
    );
  }
  return (
    <Link href={href} title={`${info.url} (endpoint ${props.id})`}>
      {info.systemName}
      <span className="muted mono dl-id-tail nowrap">
        {" "}
        …{props.id.slice(-6)}
      </span>
    </Link>
  );
}

/** A shortened id as a link (the full id in its title). */
export function IdLink(props: {
  href: string;
  id: string;
  /** What the id is, for its accessible name: "Delivery", "Event". */
  kind: string;
  testId?: string;
}) {
  return (
    <Link
      href={props.href}
      className="mono"
      title={props.id}
      aria-label={`${props.kind} ${props.id}`}
      data-testid={props.testId}
    >
      …{props.id.slice(-8)}
    </Link>
  );
}

/**
 * The endpoint filter's field: a select of the known endpoints (system name
 * and id tail) when they can be read, else a text field for the id.
 */
export function endpointField<K extends string>(
  key: K,
  names: EndpointNames,
  current: string | undefined,
): FieldDef<K> {
  if (names.size === 0) return { key, label: "Endpoint id", input: "text" };
  const options = [...names]
    .map(([id, info]) => ({
      value: id,
      label: `${info.systemName} …${id.slice(-6)}${info.status === "ACTIVE" ? "" : ` (${info.status.toLowerCase()})`}`,
    }))
    .sort((a, b) => a.label.localeCompare(b.label));
  if (current && !names.has(current))
    options.unshift({ value: current, label: current });
  return { key, label: "Endpoint", input: "select", options };
}
