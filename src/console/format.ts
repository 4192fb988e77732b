// Number and time formatting shared by the views. Totals are printed exactly
// (with separators) so they can be checked against the API.
const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

export const fmtInt = (n: number): string => int.format(Math.round(n));
export const fmtCompact = (n: number): string => compact.format(n);
export const fmtPct = (part: number, whole: number): string =>
  whole > 0 ? `${((100 * part) / whole).toFixed(1)} %` : '–';
export const fmtPrice = (n: number | undefined, currency = 'USD'): string =>
  n === undefined ? '–' : `${n.toFixed(4)} ${currency}`;

export function fmtAgo(iso: string | undefined, now: number = Date.now()): string {
  if (!iso) return '–';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
