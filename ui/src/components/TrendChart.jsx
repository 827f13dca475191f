import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { utc } from '../format.js';

const darkQuery = matchMedia('(prefers-color-scheme: dark)');

// Whether the system is in dark mode, following its changes.
function useDark() {
  const [dark, setDark] = useState(darkQuery.matches);
  useEffect(() => {
    const follow = (e) => setDark(e.matches);
    darkQuery.addEventListener('change', follow);
    return () => darkQuery.removeEventListener('change', follow);
  }, []);
  return dark;
}

/** A line chart of points {t: seconds, iso, v} with a text summary for screen readers. */
export function TrendChart({ points, label }) {
  const box = useRef(null);
  const dark = useDark();
  useEffect(() => {
    const el = box.current;
    const ink = dark ? '#c9d1d9' : '#24292f';
    const grid = dark ? '#30363d' : '#d0d7de';
    const axis = { stroke: ink, grid: { stroke: grid }, ticks: { stroke: grid } };
    const chart = new uPlot(
      {
        width: el.clientWidth,
        height: 320,
        scales: { x: { time: true } },
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
        axes: [{ ...axis, values: (u, splits) => splits.map((s) => new Date(s * 1000).toISOString().slice(5, 10)) }, { ...axis, size: 70 }],
        series: [
          { label: 'UTC', value: (u, v) => (v == null ? '--' : new Date(v * 1000).toISOString().slice(0, 16).replace('T', ' ')) },
          { label, stroke: '#2f6fde', width: 2, points: { show: points.length < 60 } },
        ],
        legend: { live: true },
      },
      [points.map((p) => p.t), points.map((p) => p.v)],
      el,
    );
    const resize = new ResizeObserver(() => chart.setSize({ width: el.clientWidth, height: 320 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.destroy();
    };
  }, [points, label, dark]);

  const first = points[0];
  const last = points[points.length - 1];
  const values = points.map((p) => p.v);
  return (
    <figure class="chart">
      <div ref={box} class="chart-box" aria-hidden="true" />
      <figcaption>
        {label}: {points.length} snapshots from {utc(first.iso)} ({first.v}) to{' '}
        {utc(last.iso)} ({last.v}); lowest {Math.min(...values)}, highest {Math.max(...values)}.
      </figcaption>
    </figure>
  );
}
