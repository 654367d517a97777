import { useEffect, useState } from 'preact/hooks';
import type { ChannelView, SelectableInput } from './channel-view.js';
import { formatBitrate, formatDuration, formatFps, formatSpeed, inputFps, newestPart, previewUrl, slowestSpeed } from './format.js';
import { Preview } from './preview.js';

export interface ChannelActions {
  act(id: string, verb: 'restart' | 'stop' | 'start' | 'kick'): Promise<void>;
  changeLadder(id: string, ladder: string): Promise<void>;
  rotateKey(id: string): Promise<void>;
  remove(id: string): Promise<void>;
  cue(id: string, type: 'out' | 'in'): Promise<void>;
  selectInput(id: string, input: SelectableInput): Promise<void>;
}

/** One channel: state, input, transcoder, renditions, preview and actions. Every control is labelled with the channel. */
export function ChannelCard({ view, ladders, actions }: { view: ChannelView; ladders: readonly string[]; actions: ChannelActions }) {
  const { id, publisher, transcoder } = view;
  const [busy, setBusy] = useState(false);
  const [preview, setPreview] = useState(false);
  const [ladder, setLadder] = useState(view.ladder);
  // The ladder may change elsewhere (another console, the API): the field follows it.
  useEffect(() => setLadder(view.ladder), [view.ladder]);
  const titleId = `channel-${id}-title`;
  const busyWhile = (work: () => Promise<void>) => async () => {
    setBusy(true);
    try {
      await work();
    } finally {
      setBusy(false);
    }
  };
  const speed = slowestSpeed(view);
  const active = view.state === 'live' || view.state === 'reconnecting';
  const button = (label: string, verb: 'restart' | 'stop' | 'start' | 'kick', enabled: boolean) => (
    <button type="button" aria-label={`${label} ${id}`} disabled={busy || !enabled} onClick={busyWhile(() => actions.act(id, verb))}>
      {label}
    </button>
  );

  return (
    <article class={`channel state-${view.state}`} aria-labelledby={titleId} data-channel={id}>
      <header>
        <h2 id={titleId}>{id}</h2>
        <span class={`badge badge-${view.state}`} data-testid="state">
          {view.state}
        </span>
        <span class="muted">ladder {view.ladder} · key …{view.keyLast4}</span>
      </header>
      {view.stateReason !== undefined && <p class="reason">{view.stateReason}</p>}

      <div class="facts">
        <section aria-label={`Input of ${id}`}>
          <h3>Input</h3>
          {publisher === undefined ? (
            <p class="muted">no publisher</p>
          ) : (
            <dl>
              <dt>Protocol</dt>
              <dd>{publisher.protocol.toUpperCase()}</dd>
              <dt>From</dt>
              <dd>{publisher.remoteAddress ?? '–'}</dd>
              <dt>Bitrate</dt>
              <dd data-testid="input-bitrate">{formatBitrate(publisher.bitrate)}</dd>
              <dt>Frame rate</dt>
              <dd>{formatFps(inputFps(view))}</dd>
              {publisher.video !== undefined && (
                <>
                  <dt>Video</dt>
                  <dd>
                    {publisher.video.codec} {publisher.video.width}×{publisher.video.height}
                  </dd>
                </>
              )}
              {publisher.audioDelaySeconds !== undefined && (
                <>
                  <dt>Audio after video</dt>
                  <dd data-testid="input-audio-delay">{publisher.audioDelaySeconds.toFixed(2)} s</dd>
                </>
              )}
            </dl>
          )}
        </section>
        <section aria-label={`Transcoder of ${id}`}>
          <h3>Transcoder</h3>
          <dl>
            <dt>State</dt>
            <dd data-testid="transcoder-state">
              {transcoder.state}
              {transcoder.crashLooping && <strong class="bad"> crash-looping</strong>}
            </dd>
            <dt>Speed</dt>
            <dd class={speed !== undefined && speed < 0.95 ? 'bad' : undefined}>{formatSpeed(speed)}</dd>
            <dt>Restarts</dt>
            <dd data-testid="restarts">{transcoder.restarts}</dd>
            <dt>Run</dt>
            <dd>
              #{transcoder.runId}, up {formatDuration(transcoder.uptimeSeconds)}
            </dd>
            {transcoder.lastError !== undefined && (
              <>
                <dt>Last error</dt>
                <dd class="bad">{transcoder.lastError}</dd>
              </>
            )}
          </dl>
        </section>
      </div>

      {view.input !== undefined && (
        <section class="inputs" aria-label={`Inputs of ${id}`}>
          <h3>Inputs</h3>
          <p>
            Playing <strong data-testid="active-input">{view.input.active}</strong>
            {view.input.forced !== undefined ? ` (forced ${view.input.forced})` : ''} · failback {view.input.failback} · {view.input.switches} switch
            {view.input.switches === 1 ? '' : 'es'}
            {view.input.slateSecondsLeft !== undefined ? ` · slate ends the stream in ${Math.round(view.input.slateSecondsLeft)} s` : ''}
          </p>
          <ul>
            {view.input.inputs.map((i) => (
              <li key={i.role}>
                {i.role} ({i.kind}): {!i.connected ? 'not connected' : i.healthy ? 'healthy' : 'no video'}
              </li>
            ))}
          </ul>
          <div class="inline" role="group" aria-label={`Force an input of ${id}`}>
            {(['primary', 'backup', 'slate'] as const).map((input) => (
              <button
                key={input}
                type="button"
                aria-label={`Play ${input} on ${id}`}
                aria-pressed={view.input?.active === input}
                disabled={busy || view.input?.active === input}
                onClick={busyWhile(() => actions.selectInput(id, input))}
              >
                {input === 'slate' ? 'Slate' : `Switch to ${input}`}
              </button>
            ))}
          </div>
        </section>
      )}

      {transcoder.renditions.length > 0 && (
        <table class="renditions">
          <caption>Renditions of {id}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Size</th>
              <th scope="col">Bitrate</th>
              <th scope="col">Speed</th>
              <th scope="col">Newest part</th>
            </tr>
          </thead>
          <tbody>
            {transcoder.renditions.map((r) => (
              <tr key={r.name}>
                <th scope="row">{r.name}</th>
                <td>{r.width !== undefined ? `${r.width}×${r.height}` : r.kind}</td>
                <td>{formatBitrate(r.bitrate)}</td>
                <td>{formatSpeed(r.speed)}</td>
                <td data-testid="newest-part">{newestPart(r)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {transcoder.dropped.length > 0 && <p class="muted">Dropped: {transcoder.dropped.map((d) => `${d.name} (${d.reason})`).join(', ')}</p>}

      {preview && <Preview url={previewUrl(view.urls.playback, location.hostname)} label={`Preview of ${id}`} />}

      <div class="actions" role="group" aria-label={`Actions for ${id}`}>
        <button type="button" aria-pressed={preview} aria-label={`${preview ? 'Hide' : 'Show'} preview of ${id}`} onClick={() => setPreview(!preview)}>
          {preview ? 'Hide preview' : 'Preview'}
        </button>
        {button('Restart', 'restart', active)}
        {view.state === 'stopped' ? button('Start', 'start', true) : button('Stop', 'stop', true)}
        {button('Kick', 'kick', publisher !== undefined)}
        <button type="button" aria-label={`Start a 30 s ad break on ${id}`} disabled={busy || view.state !== 'live'} onClick={busyWhile(() => actions.cue(id, 'out'))}>
          Ad break
        </button>
        <button type="button" aria-label={`End the ad break on ${id}`} disabled={busy || view.state !== 'live'} onClick={busyWhile(() => actions.cue(id, 'in'))}>
          End break
        </button>
      </div>

      <details class="settings">
        <summary>Settings of {id}</summary>
        <form
          class="inline"
          onSubmit={(event) => {
            event.preventDefault();
            void busyWhile(() => actions.changeLadder(id, ladder.trim()))();
          }}
        >
          <label for={`ladder-${id}`}>Ladder</label>
          <input id={`ladder-${id}`} list="known-ladders" value={ladder} required onInput={(e) => setLadder(e.currentTarget.value)} />
          <datalist id="known-ladders">
            {ladders.map((name) => (
              <option key={name} value={name} />
            ))}
          </datalist>
          <button type="submit" disabled={busy || ladder.trim() === view.ladder}>
            Change ladder
          </button>
        </form>
        <div class="inline">
          <button
            type="button"
            disabled={busy}
            onClick={() => {
              if (confirm(`Rotate the publish key of ${id}? The current key stops working.`)) void busyWhile(() => actions.rotateKey(id))();
            }}
          >
            Rotate key
          </button>
          <button
            type="button"
            class="danger"
            disabled={busy}
            onClick={() => {
              if (confirm(`Delete channel ${id}? It stops and its definition is removed.`)) void busyWhile(() => actions.remove(id))();
            }}
          >
            Delete channel
          </button>
        </div>
        <p class="muted">
          Publish: <code>{view.urls.rtmp}</code>
          {view.urls.srt !== undefined && (
            <>
              {' '}
              · <code>{view.urls.srt}</code>
            </>
          )}
        </p>
      </details>
    </article>
  );
}
