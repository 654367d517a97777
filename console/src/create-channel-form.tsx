import { useState } from 'preact/hooks';

/** A new channel: id, optional ladder; the server generates the publish key and it is shown once. */
export function CreateChannelForm({ ladders, onCreate }: { ladders: readonly string[]; onCreate: (spec: { id: string; ladder?: string }) => Promise<void> }) {
  const [id, setId] = useState('');
  const [ladder, setLadder] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="create inline"
      aria-labelledby="create-title"
      onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        try {
          await onCreate(ladder.trim() === '' ? { id: id.trim() } : { id: id.trim(), ladder: ladder.trim() });
          setId('');
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2 id="create-title">New channel</h2>
      <label for="new-id">Id</label>
      <input id="new-id" required pattern="[A-Za-z0-9][A-Za-z0-9_\-]{0,63}" title="letters, digits, _ and -, at most 64" value={id} onInput={(e) => setId(e.currentTarget.value)} />
      <label for="new-ladder">Ladder</label>
      <input id="new-ladder" list="known-ladders-new" placeholder="default" value={ladder} onInput={(e) => setLadder(e.currentTarget.value)} />
      <datalist id="known-ladders-new">
        {ladders.map((name) => (
          <option key={name} value={name} />
        ))}
      </datalist>
      <button type="submit" disabled={busy}>
        Create
      </button>
    </form>
  );
}
