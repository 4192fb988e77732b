import { useState, type FormEvent } from 'react';

export function SignIn({
  error,
  onSignIn,
}: {
  error?: string;
  onSignIn: (secret: string) => Promise<void>;
}) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState(error);
  const [busy, setBusy] = useState(false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    onSignIn(token.trim()).catch((err: unknown) => {
      setProblem((err as Error).message);
      setBusy(false);
    });
  };
  return (
    <main className="signin" id="main">
      <h1>Yunjian console</h1>
      <p>
        Open a sign-in link (<code>http://localhost:7080/?code=…</code>): the server prints one when
        it starts, and <code>yunjian console</code> prints a fresh one. Each works once, for 10
        minutes. Or paste your own token (<code>yju_…</code>, from{' '}
        <code>yunjian user token create</code>), an ID token from your identity provider when the
        server accepts OIDC, or a sign-in code.
      </p>
      <form onSubmit={submit}>
        <label htmlFor="token">Token or sign-in code</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="current-password"
          value={token}
          onChange={(e) => setToken(e.target.value)}
          aria-invalid={problem !== undefined}
          aria-describedby={problem !== undefined ? 'signin-error' : undefined}
          required
        />
        <button type="submit" disabled={busy || token.trim() === ''}>
          Sign in
        </button>
      </form>
      {problem !== undefined && (
        <p id="signin-error" className="error" role="alert">
          {problem}
        </p>
      )}
    </main>
  );
}
