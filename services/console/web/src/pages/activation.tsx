import { useEffect, useState } from "preact/hooks";
import type { ActivationInfo, IssuedToken } from "../../../src/api-types";
import { ApiError, ago, api } from "../api";

export function Activation() {
  const [info, setInfo] = useState<ActivationInfo | undefined>(undefined);
  const [deviceId, setDeviceId] = useState("");
  const [days, setDays] = useState(30);
  const [issued, setIssued] = useState<IssuedToken | undefined>(undefined);
  const [error, setError] = useState("");
  useEffect(() => {
    api<ActivationInfo>("GET", "/api/activation").then(
      (i) => {
        setInfo(i);
        setDays(Math.floor(i.tokenTtlSec / 86400));
      },
      (err) => setError((err as Error).message),
    );
  }, []);
  const maxDays = Math.max(1, Math.floor((info?.tokenTtlSec ?? 2592000) / 86400));
  const issue = async (e: Event) => {
    e.preventDefault();
    setError("");
    setIssued(undefined);
    try {
      setIssued(await api<IssuedToken>("POST", "/api/tokens", { deviceId: deviceId.trim(), ttlSec: days * 86400 }));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : "The console could not be reached.");
    }
  };
  return (
    <>
      <h1>Activation</h1>
      <section class="card" aria-labelledby="issue-title">
        <h2 id="issue-title">Issue a device token</h2>
        <p class="hint">
          A HotPin device authenticates with a signed token for its own id. Put the token into the device's settings (or
          use the URL below for a spec-dialect device).
        </p>
        {info && !info.canIssue && (
          <p class="error" role="alert">
            HOTPIN_TOKEN_SECRET is not set for the console: it cannot issue device tokens.
          </p>
        )}
        <form class="issue" onSubmit={issue}>
          <div class="field">
            <label for="device-id">Device id</label>
            <input
              id="device-id"
              type="text"
              required
              pattern="[A-Za-z0-9._\-]{1,64}"
              title="1–64 letters, digits, '.', '_' or '-'"
              placeholder="esp32-cam-hotpin"
              value={deviceId}
              onInput={(e) => setDeviceId((e.target as HTMLInputElement).value)}
            />
          </div>
          <div class="field narrow">
            <label for="ttl-days">Valid for (days)</label>
            <input
              id="ttl-days"
              type="number"
              min={1}
              max={maxDays}
              value={days}
              onInput={(e) => setDays(Number((e.target as HTMLInputElement).value))}
            />
          </div>
          <button type="submit" disabled={!info?.canIssue || !deviceId.trim()}>
            Issue token
          </button>
        </form>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        {issued && (
          <div class="issued" data-testid="issued-token">
            <label for="issued-token">
              Token for {issued.deviceId} (valid until {new Date(issued.expiresAt).toLocaleString()})
            </label>
            <textarea
              id="issued-token"
              readOnly
              rows={3}
              value={issued.token}
              onFocus={(e) => (e.target as HTMLTextAreaElement).select()}
            />
            <label for="issued-url">Spec dialect URL</label>
            <textarea
              id="issued-url"
              readOnly
              rows={4}
              value={issued.wsUrl}
              onFocus={(e) => (e.target as HTMLTextAreaElement).select()}
            />
            <p class="hint">
              Firmware devices send the token as <code>Authorization: Bearer …</code>. Shown once: the console keeps no
              copy.
            </p>
          </div>
        )}
      </section>

      <section class="card" aria-labelledby="codes-title">
        <h2 id="codes-title">Pending activation codes</h2>
        <p class="unavailable" data-testid="codes-unavailable">
          <strong>Not available.</strong> {info?.pendingCodes.reason}
        </p>
      </section>

      <section class="card" aria-labelledby="pre-title">
        <h2 id="pre-title">Pre-registered devices</h2>
        {!info || info.preregistered.length === 0 ? (
          <p class="empty">
            None. List device ids in <code>HOTPIN_CONSOLE_DEVICES</code> to see here whether each has come online.
          </p>
        ) : (
          <ul class="plain">
            {info.preregistered.map((d) => (
              <li key={d.deviceId}>
                <span class="mono">{d.deviceId}</span>{" "}
                <span class={d.connected ? "badge on" : "badge off"}>
                  {d.connected ? "connected" : d.lastActivity ? `seen ${ago(d.lastActivity)}` : "not seen"}
                </span>{" "}
                <button type="button" class="link" onClick={() => setDeviceId(d.deviceId)}>
                  issue a token
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
    </>
  );
}
