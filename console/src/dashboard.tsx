import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, type ApiClient } from './api-client.js';
import { ChannelCard, type ChannelActions } from './channel-card.js';
import type { ChannelView } from './channel-view.js';
import { EMPTY_STATE, applyMessage, sortedChannels, withChannel, type ConsoleState } from './console-state.js';
import { CreateChannelForm } from './create-channel-form.js';
import { keyFromBytes } from './format.js';

type Connection = 'connecting' | 'live' | 'reconnecting' | 'paused';

interface Notice {
  text: string;
  tone: 'good' | 'bad';
  /** A secret shown once (a generated or rotated key): the operator copies it now. */
  secret?: string;
}

const CONNECTION_TEXT: Record<Connection, string> = {
  connecting: 'Connecting…',
  live: 'Live updates on',
  reconnecting: 'Reconnecting…',
  paused: 'Paused while hidden',
};

/** First reconnection delay after the stream drops; doubles up to {@link MAX_RECONNECT_MS}. */
const FIRST_RECONNECT_MS = 1_000;
const MAX_RECONNECT_MS = 30_000;

export function Dashboard({ client, onLogout, onUnauthorized }: { client: ApiClient; onLogout: () => void; onUnauthorized: () => void }) {
  const [state, setState] = useState<ConsoleState>(EMPTY_STATE);
  const [connection, setConnection] = useState<Connection>('connecting');
  const [notice, setNotice] = useState<Notice | undefined>();
  // The stream's callback reads and writes the newest state without waiting for a render.
  const current = useRef(state);
  const update = (next: ConsoleState): void => {
    current.current = next;
    setState(next);
  };

  useEffect(() => {
    const abort = new AbortController();
    const fetching = new Set<string>();
    const fetchMissing = (id: string): void => {
      if (fetching.has(id)) return;
      fetching.add(id);
      client
        .getChannel(id)
        .then((view) => update(withChannel(current.current, id, view)))
        .catch(() => undefined)
        .finally(() => fetching.delete(id));
    };
    // Reads the event stream; when it drops, reconnects with backoff (the server pushes, the console never polls).
    // A hidden tab lets its stream go and takes a fresh snapshot when shown again: a browser opens at
    // most 6 HTTP/1.1 connections to one host, and every open stream holds one.
    let stream: AbortController | undefined;
    let wake: (() => void) | undefined;
    const onVisibility = (): void => {
      if (document.hidden) stream?.abort();
      else wake?.();
    };
    document.addEventListener('visibilitychange', onVisibility);
    abort.signal.addEventListener('abort', () => {
      stream?.abort();
      wake?.();
    });
    void (async () => {
      let delay = FIRST_RECONNECT_MS;
      while (!abort.signal.aborted) {
        if (document.hidden) {
          setConnection('paused');
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        stream = new AbortController();
        try {
          const ended = await client.streamEvents((message) => {
            setConnection('live');
            delay = FIRST_RECONNECT_MS;
            const applied = applyMessage(current.current, message);
            update(applied.state);
            for (const id of applied.missing) fetchMissing(id);
          }, stream.signal);
          if (ended.retryMs !== undefined) delay = Math.max(delay, ended.retryMs);
        } catch (err) {
          if (abort.signal.aborted) return;
          if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
            onUnauthorized();
            return;
          }
        }
        if (abort.signal.aborted) return;
        if (document.hidden) continue;
        setConnection('reconnecting');
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, MAX_RECONNECT_MS);
      }
    })();
    return () => {
      document.removeEventListener('visibilitychange', onVisibility);
      abort.abort();
    };
  }, [client]);

  const run = async <T,>(label: string, call: () => Promise<T>, after: (result: T) => Notice | undefined): Promise<void> => {
    try {
      const result = await call();
      setNotice(after(result) ?? { text: `${label}: done`, tone: 'good' });
    } catch (err) {
      // 401: the token is gone or malformed; back to the login form. (A 403 is shown: it may be a refusal of the action.)
      if (err instanceof ApiError && err.status === 401) return onUnauthorized();
      setNotice({ text: `${label} failed: ${(err as Error).message}`, tone: 'bad' });
    }
  };
  const applyView = (view: ChannelView): undefined => {
    update(withChannel(current.current, view.id, view));
    return undefined;
  };

  const actions: ChannelActions = {
    act: (id, verb) => run(`${verb} ${id}`, () => client.action(id, verb), applyView),
    changeLadder: (id, ladder) => run(`ladder of ${id}`, () => client.update(id, { ladder }), applyView),
    rotateKey: (id) => {
      const key = keyFromBytes(crypto.getRandomValues(new Uint8Array(16)));
      return run(`key of ${id}`, () => client.update(id, { key }), (view) => {
        applyView(view);
        return { text: `New publish key of ${id} (shown once; the old key no longer works):`, tone: 'good', secret: key };
      });
    },
    remove: (id) =>
      run(`delete ${id}`, () => client.remove(id), () => {
        update(withChannel(current.current, id, undefined));
        return { text: `Channel ${id} deleted`, tone: 'good' };
      }),
    selectInput: (id, input) => run(`${input} on ${id}`, () => client.selectInput(id, input), applyView),
    cue: (id, type) =>
      run(type === 'out' ? `ad break on ${id}` : `end of ad break on ${id}`, () => client.cue(id, type === 'out' ? { type, durationSeconds: 30 } : { type }), (cue) => ({
        text: `${cue.type === 'out' ? 'Ad break' : 'End of ad break'} ${cue.id} scheduled on ${id}`,
        tone: 'good',
      })),
  };

  const channels = sortedChannels(state);
  const ladders = useMemo(() => [...new Set(channels.map((c) => c.ladder))].sort(), [state.channels]);
  const live = channels.filter((c) => c.state === 'live').length;

  return (
    <div class="dashboard">
      <header class="top">
        <h1>livepipe</h1>
        <p class="summary">
          {channels.length} channel{channels.length === 1 ? '' : 's'}, {live} live
        </p>
        <p class={`connection connection-${connection}`} role="status" aria-label="Live updates">
          {CONNECTION_TEXT[connection]}
        </p>
        {client.token !== undefined && (
          <button type="button" class="quiet" onClick={onLogout}>
            Log out
          </button>
        )}
      </header>
      <div class="notice-area" aria-live="polite">
        {notice !== undefined && (
          <p class={`notice notice-${notice.tone}`}>
            {notice.text}
            {notice.secret !== undefined && (
              <>
                {' '}
                <code class="secret" data-testid="secret">
                  {notice.secret}
                </code>
              </>
            )}
            <button type="button" class="quiet" aria-label="Dismiss message" onClick={() => setNotice(undefined)}>
              ×
            </button>
          </p>
        )}
      </div>
      <main>
        <CreateChannelForm
          ladders={ladders}
          onCreate={(spec) =>
            run(`create ${spec.id}`, () => client.create(spec), (created) => {
              const { key, ...view } = created;
              applyView(view);
              return key !== undefined
                ? { text: `Channel ${created.id} created. Its publish key (shown once):`, tone: 'good', secret: key }
                : { text: `Channel ${created.id} created`, tone: 'good' };
            })
          }
        />
        {channels.length === 0 ? (
          <p class="empty">No channels yet. Create one, or publish to a loopback server in open mode.</p>
        ) : (
          <ul class="channels" aria-label="Channels">
            {channels.map((view) => (
              <li key={view.id}>
                <ChannelCard view={view} ladders={ladders} actions={actions} />
              </li>
            ))}
          </ul>
        )}
        <section class="activity" aria-labelledby="activity-title">
          <h2 id="activity-title">Activity</h2>
          {state.log.length === 0 ? (
            <p class="empty">No events since this page opened.</p>
          ) : (
            <ol>
              {state.log.map((entry) => (
                <li key={entry.key} class={`tone-${entry.tone}`}>
                  <time dateTime={entry.at}>{new Date(entry.at).toLocaleTimeString()}</time> {entry.channel !== undefined && <strong>{entry.channel}</strong>} {entry.text}
                </li>
              ))}
            </ol>
          )}
        </section>
      </main>
    </div>
  );
}
