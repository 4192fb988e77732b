// Small pieces the console's views share: table headings, filter forms and
// the frame of a chart.
import type { ReactNode, RefObject } from 'react';

/** A column heading; numeric columns are right-aligned like their cells. */
export type Column = string | { label: string; num: true };

export function num(label: string): Column {
  return { label, num: true };
}

export function TableHead({ columns }: { columns: readonly Column[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c) =>
          typeof c === 'string' ? (
            <th key={c} scope="col">
              {c}
            </th>
          ) : (
            <th key={c.label} scope="col" className="num">
              {c.label}
            </th>
          ),
        )}
      </tr>
    </thead>
  );
}

/** A filter bar: its controls write the address, so submitting does nothing. */
export function FilterForm({ label, children }: { label: string; children: ReactNode }) {
  return (
    <form className="filters" role="search" aria-label={label} onSubmit={(e) => e.preventDefault()}>
      {children}
    </form>
  );
}

export function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <label className="field">
      <span>{label}</span>
      {children}
    </label>
  );
}

/**
 * A chart's frame: its title, the canvas (decorative for assistive
 * technology) and the same numbers as a visually hidden table.
 */
export function ChartFigure({
  id,
  title,
  heightPx,
  canvas,
  children,
}: {
  id: string;
  title: string;
  heightPx: number;
  canvas: RefObject<HTMLCanvasElement | null>;
  /** The table's head and body. */
  children: ReactNode;
}) {
  return (
    <figure className="chart" aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`}>{title}</figcaption>
      <div className="chart-box" style={{ height: `${heightPx}px` }}>
        <canvas ref={canvas} aria-hidden="true" />
      </div>
      <table className="sr-only">
        <caption>{title}</caption>
        {children}
      </table>
    </figure>
  );
}
