import { useEffect, useRef, useSyncExternalStore } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatClock, formatNumber } from "../../lib/format";

export interface MinutePoint {
  minute: string;
  eventsReceived: number;
  deliveriesSucceeded: number;
  deliveriesFailed: number;
  deadLettered: number;
}

export const SERIES = [
  { key: "eventsReceived", label: "Events received", color: "--chart-1" },
  {
    key: "deliveriesSucceeded",
    label: "Deliveries succeeded",
    color: "--chart-2",
  },
  { key: "deliveriesFailed", label: "Deliveries failed", color: "--chart-3" },
  { key: "deadLettered", label: "Dead-lettered", color: "--chart-4" },
] as const;

const darkQuery = "(prefers-color-scheme: dark)";

function subscribeScheme(cb: () => void) {
  const m = window.matchMedia(darkQuery);
  m.addEventListener("change", cb);
  return () => m.removeEventListener("change", cb);
}

/** Whether the dark palette is in use (re-renders when it changes). */
function useDark(): boolean {
  return useSyncExternalStore(
    subscribeScheme,
    () => window.matchMedia(darkQuery).matches,
    () => false,
  );
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement)
    .getPropertyValue(name)
    .trim();
}

function toData(points: MinutePoint[]): uPlot.AlignedData {
  return [
    points.map((p) => Date.parse(p.minute) / 1000),
    ...SERIES.map((s) => points.map((p) => p[s.key])),
  ];
}

/**
 * Per-minute counts as a uPlot line chart, sized to its container and
 * coloured from the theme's custom properties.
 */
export function MinutesChart(props: { points: MinutePoint[]; label: string }) {
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const dark = useDark();
  const { points } = props;
  const latest = useRef(points);
  useEffect(() => {
    latest.current = points;
  });

  // (Re)create the chart when the palette changes.
  useEffect(() => {
    const el = holder.current;
    if (!el) return;
    const text = cssVar("--muted");
    const grid = cssVar("--border");
    const axis: uPlot.Axis = {
      stroke: text,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
    };
    const opts: uPlot.Options = {
      width: Math.max(280, el.clientWidth),
      height: 240,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        y: { range: (_u, _min, max) => [0, Math.max(4, max * 1.1)] },
      },
      axes: [
        {
          ...axis,
          values: (_u, ticks) =>
            ticks.map((t) => formatClock(new Date(t * 1000))),
        },
        {
          ...axis,
          size: 44,
          values: (_u, ticks) => ticks.map((t) => formatNumber(t)),
        },
      ],
      series: [
        {},
        ...SERIES.map((s) => ({
          label: s.label,
          stroke: cssVar(s.color),
          width: 2,
          points: { show: false },
        })),
      ],
    };
    const u = new uPlot(opts, toData(latest.current), el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      u.setSize({ width: Math.max(280, el.clientWidth), height: 240 });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [dark]);

  // New data: redraw in place.
  useEffect(() => {
    plot.current?.setData(toData(points));
  }, [points]);

  return (
    <figure className="chart-figure">
      <div ref={holder} className="chart" role="img" aria-label={props.label} />
      <figcaption>
        <ul className="legend">
          {SERIES.map((s) => (
            <li key={s.key}>
              <span
                className="legend-swatch"
                style={{ background: `var(${s.color})` }}
                aria-hidden="true"
              />
              {s.label}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
