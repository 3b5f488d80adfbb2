import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export interface Series {
  label: string;
  colour: string;
  dash?: number[];
}

/**
 * A live time chart (uPlot on a canvas): x in epoch seconds, one line per series, values in ms.
 * Fits its container's width, so it works from a phone to a wide screen. The caption and the
 * table beside it carry the same numbers for screen readers.
 */
export function TimeChart({
  title,
  series,
  x,
  ys,
  height = 200,
}: {
  title: string;
  series: Series[];
  x: number[];
  ys: (number | null)[][];
  height?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current!;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(100, (max ?? 0) * 1.15)] } },
      axes: [
        { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,0.2)" } },
        {
          stroke: "currentColor",
          grid: { stroke: "rgba(128,128,128,0.2)" },
          size: 72,
          values: (_u, v) => v.map((n) => (n >= 1000 ? `${(n / 1000).toFixed(1)} s` : `${n} ms`)),
        },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.colour,
          width: 2,
          spanGaps: false,
          ...(s.dash ? { dash: s.dash } : {}),
          value: (_u: uPlot, v: number | null) => (v === null ? "—" : `${Math.round(v)} ms`),
        })),
      ],
    };
    plot.current = new uPlot(opts, [x, ...ys] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Created once; data changes go through setData below.
  }, []);
  useEffect(() => {
    plot.current?.setData([x, ...ys] as uPlot.AlignedData);
  }, [x, ys]);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} class="chart-box" role="img" aria-label={title} />
    </figure>
  );
}
