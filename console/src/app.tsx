import { useEffect, useState } from 'preact/hooks';
import { ApiClient, ApiError } from './api-client.js';
import { Dashboard } from './dashboard.js';
import { LoginForm } from './login-form.js';

/** Where the token lives: this tab's session storage (gone when the tab closes; never a cookie). */
const TOKEN_KEY = 'livepipe.apiToken';

type Auth = { kind: 'checking' } | { kind: 'login'; error?: string } | { kind: 'ready'; client: ApiClient };

/** Whether a token opens the API: the channel list answers 200 with it (or without one, in open mode). */
async function probe(token: string | undefined): Promise<Auth> {
  const client = new ApiClient(token);
  try {
    await client.listChannels();
    return { kind: 'ready', client };
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) return { kind: 'login', error: 'The API refused this token.' };
    if (err instanceof ApiError && err.status === 401) return token === undefined ? { kind: 'login' } : { kind: 'login', error: err.message };
    return { kind: 'login', error: `Cannot reach the ops API: ${(err as Error).message}` };
  }
}

export function App() {
  const [auth, setAuth] = useState<Auth>({ kind: 'checking' });

  useEffect(() => {
    // A token kept from earlier in this tab, or none: an API in open mode needs no login.
    void probe(sessionStorage.getItem(TOKEN_KEY) ?? undefined).then((outcome) => {
      if (outcome.kind !== 'ready') sessionStorage.removeItem(TOKEN_KEY);
      setAuth(outcome);
    });
  }, []);

  const login = async (token: string): Promise<void> => {
    const outcome = await probe(token);
    if (outcome.kind === 'ready') sessionStorage.setItem(TOKEN_KEY, token);
    setAuth(outcome);
  };
  const logout = (error?: string): void => {
    sessionStorage.removeItem(TOKEN_KEY);
    setAuth(error !== undefined ? { kind: 'login', error } : { kind: 'login' });
  };

  if (auth.kind === 'checking') return <main class="center" aria-busy="true">Connecting to the ops API…</main>;
  if (auth.kind === 'login') return <LoginForm error={auth.error} onSubmit={login} />;
  return <Dashboard client={auth.client} onLogout={() => logout()} onUnauthorized={() => logout('The API no longer accepts this token: log in again.')} />;
}
