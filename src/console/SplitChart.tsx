// A migration's traffic split over time as a stepped Chart.js line (only the
// line pieces are registered, in this lazily loaded view's chunk). The canvas
// is decorative for assistive technology: the same points are in a table.
import {
  Chart,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import { useEffect, useRef } from 'react';
import type { SplitPoint } from './migrationTimeline.ts';
import { ChartFigure } from './ui.tsx';

Chart.register(LineController, LineElement, PointElement, LinearScale, Tooltip);

export function SplitChart({
  id,
  title,
  points,
}: {
  id: string;
  title: string;
  points: SplitPoint[];
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<'line', { x: number; y: number }[]> | null>(null);
  const labels = useRef<string[]>([]);
  labels.current = points.map((p) => p.label);

  useEffect(() => {
    if (!canvas.current) return;
    const config: ChartConfiguration<'line', { x: number; y: number }[]> = {
      type: 'line',
      data: { datasets: [] },
      options: {
        maintainAspectRatio: false,
        responsive: true,
        animation: false,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: (ctx) =>
                `${labels.current[ctx.dataIndex] ?? ''}: ${ctx.parsed.y}% on the target until ${ctx.parsed.x} s`,
            },
          },
        },
        scales: {
          x: { type: 'linear', min: 0, title: { display: true, text: 'seconds since start' } },
          y: {
            min: 0,
            max: 100,
            title: { display: true, text: '% of traffic on the target' },
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

  const signature = JSON.stringify(points);
  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    c.data.datasets = [
      {
        label: 'target',
        data: points.map((p) => ({ x: p.seconds, y: p.weight })),
        // Each weight is held from the previous point up to its own: the line
        // rises at the previous point ('after' in Chart.js's terms).
        stepped: 'after',
        borderColor: '#0969da',
        backgroundColor: '#0969da',
      },
    ];
    c.update('none');
  }, [signature]);

  return (
    <ChartFigure id={id} title={title} heightPx={220} canvas={canvas}>
      <thead>
        <tr>
          <th scope="col">Until</th>
          <th scope="col">Seconds</th>
          <th scope="col">Target share</th>
        </tr>
      </thead>
      <tbody>
        {points.map((p, i) => (
          <tr key={i}>
            <th scope="row">{p.label}</th>
            <td>{p.seconds}</td>
            <td>{p.weight}%</td>
          </tr>
        ))}
      </tbody>
    </ChartFigure>
  );
}
