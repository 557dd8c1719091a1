import {
  flexRender,
  getCoreRowModel,
  useReactTable,
  type ColumnDef,
  type Row,
} from "@tanstack/react-table";
import { Fragment, type ReactNode } from "react";
import { Empty } from "./Empty";

export type { ColumnDef } from "@tanstack/react-table";

export interface DataTableProps<T> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  columns: ColumnDef<T, any>[];
  data: T[];
  getRowId: (row: T) => string;
  caption?: string;
  empty?: ReactNode;
  expandedId?: string | null;
  renderExpanded?: (row: T) => ReactNode;
  rowTestId?: string;
  rowClassName?: (row: T) => string | undefined;
  /** On narrow screens, show each row as a card of label/value lines (default true). */
  stackOnMobile?: boolean;
}

/**
 * A table over one page of rows (the server pages; this does not sort or
 * page). `renderExpanded` shows a full-width row under the row whose id is
 * `expandedId`.
 */
export function DataTable<T>(props: DataTableProps<T>) {
  // eslint-disable-next-line react-hooks/incompatible-library
  const table = useReactTable({
    columns: props.columns,
    data: props.data,
    getRowId: (row) => props.getRowId(row),
    getCoreRowModel: getCoreRowModel(),
  });
  if (props.data.length === 0) return <Empty>{props.empty}</Empty>;
  const colCount = table.getVisibleLeafColumns().length;
  return (
    <div className="table-wrap">
      <table
        className={
          props.stackOnMobile === false ? "table" : "table table-stack"
        }
      >
        {props.caption ? (
          <caption className="visually-hidden">{props.caption}</caption>
        ) : null}
        <thead>
          {table.getHeaderGroups().map((group) => (
            <tr key={group.id}>
              {group.headers.map((h) => (
                <th key={h.id} scope="col">
                  {h.isPlaceholder
                    ? null
                    : flexRender(h.column.columnDef.header, h.getContext())}
                </th>
              ))}
            </tr>
          ))}
        </thead>
        <tbody>
          {table.getRowModel().rows.map((row: Row<T>) => (
            <Fragment key={row.id}>
              <tr
                data-testid={props.rowTestId}
                data-row-id={row.id}
                className={props.rowClassName?.(row.original)}
              >
                {row.getVisibleCells().map((cell) => (
                  <td
                    key={cell.id}
                    data-label={headerText(cell.column.columnDef.header)}
                  >
                    <div className="cell">
                      {flexRender(
                        cell.column.columnDef.cell,
                        cell.getContext(),
                      )}
                    </div>
                  </td>
                ))}
              </tr>
              {props.renderExpanded && props.expandedId === row.id ? (
                <tr className="table-expanded">
                  <td colSpan={colCount}>
                    {props.renderExpanded(row.original)}
                  </td>
                </tr>
              ) : null}
            </Fragment>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function headerText(header: unknown): string | undefined {
  return typeof header === "string" ? header : undefined;
}
