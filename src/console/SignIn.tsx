import { useState, type FormEvent } from 'react';

export function SignIn({
  error,
  onSignIn,
}: {
  error?: string;
  onSignIn: (token: string) => Promise<void>;
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
        Open the sign-in link the server printed when it started (
        <code>http://localhost:7080/?token=…</code>), or paste the admin token. It is in the
        server&apos;s data directory as <code>admin.token</code>.
      </p>
      <form onSubmit={submit}>
        <label htmlFor="token">Admin token</label>
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
