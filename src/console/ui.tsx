// Small pieces the console's views share: table headings and filter forms.
import type { ReactNode } from 'react';

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
