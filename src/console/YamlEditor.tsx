// Apply YAML from the browser. The server validates (dry run or for real);
// each field error it returns is placed on the line of the YAML it names
// (yamlPaths.ts), marked in the gutter and listed with a jump-to-line button.
import { useId, useMemo, useRef, useState } from 'react';
import { ApiError, applyYaml, type ApplyResult, type FieldCause } from './api.ts';
import { href } from './router.ts';
import { lineOfField } from './yamlPaths.ts';

const LINE_HEIGHT = 20;

type Outcome =
  | { kind: 'none' }
  | { kind: 'busy'; dryRun: boolean }
  | { kind: 'ok'; dryRun: boolean; result: ApplyResult }
  | { kind: 'invalid'; message: string; causes: (FieldCause & { line: number | undefined })[] }
  | { kind: 'error'; message: string };

export function YamlEditor({ initial, label }: { initial: string; label: string }) {
  const [text, setText] = useState(initial);
  const [outcome, setOutcome] = useState<Outcome>({ kind: 'none' });
  const area = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLDivElement>(null);
  const id = useId();
  const lineCount = useMemo(() => text.split('\n').length, [text]);
  const errorLines = useMemo(
    () => new Set(outcome.kind === 'invalid' ? outcome.causes.map((c) => c.line) : []),
    [outcome],
  );

  const submit = async (dryRun: boolean) => {
    setOutcome({ kind: 'busy', dryRun });
    try {
      setOutcome({ kind: 'ok', dryRun, result: await applyYaml(text, dryRun) });
    } catch (err) {
      if (err instanceof ApiError && err.causes.length > 0) {
        setOutcome({
          kind: 'invalid',
          message: err.message,
          causes: err.causes.map((c) => ({ ...c, line: lineOfField(text, c.field) })),
        });
      } else {
        setOutcome({ kind: 'error', message: (err as Error).message });
      }
    }
  };

  const goTo = (line: number) => {
    const el = area.current;
    if (!el) return;
    const lines = text.split('\n');
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    el.focus();
    el.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
    el.scrollTop = Math.max(0, (line - 3) * LINE_HEIGHT);
  };

  return (
    <div className="yaml-editor">
      <label htmlFor={`${id}-text`}>{label}</label>
      <div className="editor">
        <div className="gutter" ref={gutter} aria-hidden="true">
          {Array.from({ length: lineCount }, (_, i) => (
            <div key={i} className={errorLines.has(i + 1) ? 'err' : undefined}>
              {errorLines.has(i + 1) ? '● ' : ''}
              {i + 1}
            </div>
          ))}
        </div>
        <textarea
          id={`${id}-text`}
          ref={area}
          value={text}
          spellCheck={false}
          autoCapitalize="off"
          autoComplete="off"
          wrap="off"
          data-testid="yaml-input"
          aria-invalid={outcome.kind === 'invalid'}
          aria-describedby={`${id}-result`}
          onChange={(e) => setText(e.target.value)}
          onBlur={(e) => delete e.currentTarget.dataset['escaped']}
          onScroll={(e) => {
            if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop;
          }}
          onKeyDown={(e) => {
            // Tab indents inside the editor; Escape then Tab leaves it (WCAG 2.1.2).
            if (e.key === 'Tab' && !e.shiftKey && !e.currentTarget.dataset['escaped']) {
              e.preventDefault();
              const el = e.currentTarget;
              const { selectionStart: s, selectionEnd: end } = el;
              setText(`${text.slice(0, s)}  ${text.slice(end)}`);
              requestAnimationFrame(() => el.setSelectionRange(s + 2, s + 2));
            } else if (e.key === 'Escape') {
              e.currentTarget.dataset['escaped'] = '1';
            } else {
              delete e.currentTarget.dataset['escaped'];
            }
          }}
        />
      </div>
      <p className="hint">Tab indents; press Escape, then Tab, to leave the editor.</p>
      <div className="actions">
        <button type="button" onClick={() => void submit(true)} disabled={outcome.kind === 'busy'}>
          Validate (dry run)
        </button>
        <button
          type="button"
          className="primary"
          onClick={() => void submit(false)}
          disabled={outcome.kind === 'busy'}
        >
          Apply
        </button>
      </div>
      <div id={`${id}-result`} aria-live="polite" data-testid="apply-result">
        {outcome.kind === 'busy' && <p>{outcome.dryRun ? 'Validating…' : 'Applying…'}</p>}
        {outcome.kind === 'ok' && (
          <div className="ok" role="status">
            <p>{outcome.dryRun ? 'Valid. Nothing was stored (dry run):' : 'Applied:'}</p>
            <ul>
              {outcome.result.items.map((i) => (
                <li key={`${i.kind}/${i.namespace ?? ''}/${i.name}`}>
                  {i.kind}{' '}
                  {i.kind === 'Application' && !outcome.dryRun ? (
                    <a href={href(['apps', i.namespace ?? 'default', i.name])}>{i.name}</a>
                  ) : (
                    i.name
                  )}{' '}
                  {i.action}
                </li>
              ))}
            </ul>
          </div>
        )}
        {outcome.kind === 'invalid' && (
          <div className="error" role="alert">
            <p>
              The server rejected the YAML; nothing was stored. {outcome.causes.length} problem(s):
            </p>
            <ul className="causes" data-testid="field-errors">
              {outcome.causes.map((c) => (
                <li key={`${c.field}:${c.message}`} data-field={c.field}>
                  {c.line !== undefined && (
                    <button type="button" className="link" onClick={() => goTo(c.line ?? 1)}>
                      Line {c.line}
                    </button>
                  )}{' '}
                  <code className="field">{c.field}</code>: <span>{c.message}</span>
                </li>
              ))}
            </ul>
          </div>
        )}
        {outcome.kind === 'error' && (
          <p className="error" role="alert">
            {outcome.message}
          </p>
        )}
      </div>
    </div>
  );
}
