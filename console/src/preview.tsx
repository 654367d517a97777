import { useEffect, useRef, useState } from 'preact/hooks';

/** After a fatal network error (the origin restarting, a channel back from idle), loading resumes after this long. */
const RECOVER_MS = 2_000;

/**
 * A low-latency hls.js player of one channel, muted. hls.js is loaded on the first preview (its own
 * chunk), never from elsewhere. The player depends on the URL only: a view update (every `stats`
 * message) does not reload it, and it plays on across a ladder restart's discontinuity.
 */
export function Preview({ url, label }: { url: string; label: string }) {
  const video = useRef<HTMLVideoElement>(null);
  const [status, setStatus] = useState('loading player…');

  useEffect(() => {
    let destroyed = false;
    let destroy: (() => void) | undefined;
    void import('hls.js').then(({ default: Hls }) => {
      const element = video.current;
      if (destroyed || element === null) return;
      if (!Hls.isSupported()) {
        if (element.canPlayType('application/vnd.apple.mpegurl') !== '') {
          element.src = url;
          setStatus('');
        } else setStatus('this browser cannot play HLS');
        return;
      }
      const hls = new Hls({ lowLatencyMode: true, backBufferLength: 10 });
      let retry: ReturnType<typeof setTimeout> | undefined;
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (!data.fatal) return;
        setStatus(`${data.details}: retrying`);
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
        else retry = setTimeout(() => hls.startLoad(), RECOVER_MS);
      });
      hls.on(Hls.Events.MANIFEST_PARSED, () => {
        setStatus('');
        element.play().catch(() => undefined);
      });
      hls.loadSource(url);
      hls.attachMedia(element);
      destroy = () => {
        clearTimeout(retry);
        hls.destroy();
      };
    });
    return () => {
      destroyed = true;
      destroy?.();
    };
  }, [url]);

  return (
    <figure class="preview">
      <video ref={video} muted autoplay playsInline controls aria-label={label} />
      {status !== '' && <figcaption>{status}</figcaption>}
    </figure>
  );
}
