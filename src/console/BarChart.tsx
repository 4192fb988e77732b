// Chart.js bar charts (only the bar pieces are registered, so the bundle
// carries nothing else). Each chart keeps one Chart instance and updates its
// data in place without animation, so live updates stay cheap. The canvas is
// decorative for assistive technology: the same numbers are in a table.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import { useEffect, useRef } from 'react';
import { ChartFigure } from './ui.tsx';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
Chart.defaults.color = '#1f2328';
Chart.defaults.animation = false;

export interface Series {
  label: string;
  data: number[];
  color: string;
}

export function BarChart({
  id,
  title,
  labels,
  series,
  stacked = false,
  horizontal = false,
  format,
}: {
  id: string;
  title: string;
  labels: string[];
  series: Series[];
  stacked?: boolean;
  horizontal?: boolean;
  format: (n: number) => string;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<'bar'> | null>(null);
  const formatRef = useRef(format);
  formatRef.current = format;

  useEffect(() => {
    if (!canvas.current) return;
    const config: ChartConfiguration<'bar'> = {
      type: 'bar',
      data: { labels: [], datasets: [] },
      options: {
        indexAxis: horizontal ? 'y' : 'x',
        maintainAspectRatio: false,
        responsive: true,
        plugins: {
          legend: { display: series.length > 1, position: 'bottom' },
          tooltip: {
            callbacks: {
              label: (ctx) => `${ctx.dataset.label ?? ''}: ${formatRef.current(Number(ctx.raw))}`,
            },
          },
        },
        scales: {
          x: {
            stacked,
            ticks: horizontal ? { callback: (v) => formatRef.current(Number(v)) } : {},
          },
          y: {
            stacked,
            ticks: horizontal ? {} : { callback: (v) => formatRef.current(Number(v)) },
          },
        },
      },
    };
    chart.current = new Chart(canvas.current, config);
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
    // The chart's shape is fixed per mount; data changes go through update().
  }, []);

  // Live updates arrive several times a second; redraw only when the numbers moved.
  const signature = JSON.stringify([labels, series.map((s) => s.data)]);
  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    c.data.labels = labels;
    c.data.datasets = series.map((s) => ({
      label: s.label,
      data: s.data,
      backgroundColor: s.color,
      borderWidth: 0,
    }));
    c.update('none');
  }, [signature]);

  return (
    <ChartFigure
      id={id}
      title={title}
      heightPx={Math.max(160, horizontal ? labels.length * 26 + 60 : 220)}
      canvas={canvas}
    >
      <thead>
        <tr>
          <th scope="col">Group</th>
          {series.map((s) => (
            <th key={s.label} scope="col">
              {s.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {labels.map((l, i) => (
          <tr key={l}>
            <th scope="row">{l}</th>
            {series.map((s) => (
              <td key={s.label}>{format(s.data[i] ?? 0)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </ChartFigure>
  );
}
