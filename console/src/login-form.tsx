import { useState } from 'preact/hooks';

export function LoginForm({ error, onSubmit }: { error: string | undefined; onSubmit: (token: string) => Promise<void> }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <main class="center">
      <form
        class="login"
        aria-labelledby="login-title"
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          try {
            await onSubmit(token.trim());
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1 id="login-title">livepipe console</h1>
        <p>Enter the ops API token (<code>LIVEPIPE_API_TOKEN</code>). It is kept in this tab only.</p>
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required minLength={16} value={token} onInput={(e) => setToken(e.currentTarget.value)} autoFocus />
        {error !== undefined && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
