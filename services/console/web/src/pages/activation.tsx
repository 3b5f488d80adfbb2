import { useCallback, useEffect, useState } from "preact/hooks";
import type { ActivationInfo, IssuedToken, XiaozhiActivationInfo } from "../../../src/api-types";
import { ApiError, ago, api, useLive } from "../api";

const failed = (err: unknown) => (err instanceof ApiError ? err.message : "The console could not be reached.");

export function Activation() {
  const [info, setInfo] = useState<ActivationInfo | undefined>(undefined);
  const [deviceId, setDeviceId] = useState("");
  const [days, setDays] = useState(30);
  const [issued, setIssued] = useState<IssuedToken | undefined>(undefined);
  const [error, setError] = useState("");
  const refresh = useCallback(
    () =>
      api<ActivationInfo>("GET", "/api/activation").then(
        (i) => setInfo(i),
        (err) => setError((err as Error).message),
      ),
    [],
  );
  useEffect(() => {
    api<ActivationInfo>("GET", "/api/activation").then(
      (i) => {
        setInfo(i);
        setDays(Math.floor(i.tokenTtlSec / 86400));
      },
      (err) => setError((err as Error).message),
    );
  }, []);
  // Codes come and go as devices check in; a bound device's connection shows as it changes.
  useLive((m) => {
    if (m.type === "activation") void refresh();
    else if (
      m.type === "device" &&
      info?.xiaozhi.available &&
      info.xiaozhi.bound.some((b) => b.deviceId === m.device.deviceId)
    ) {
      void refresh();
    }
  });
  const maxDays = Math.max(1, Math.floor((info?.tokenTtlSec ?? 2592000) / 86400));
  const issue = async (e: Event) => {
    e.preventDefault();
    setError("");
    setIssued(undefined);
    try {
      setIssued(await api<IssuedToken>("POST", "/api/tokens", { deviceId: deviceId.trim(), ttlSec: days * 86400 }));
    } catch (err) {
      setError(failed(err));
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

      <Xiaozhi info={info?.xiaozhi} refresh={refresh} />

      <section class="card" aria-labelledby="pre-title">
        <h2 id="pre-title">Expected HotPin devices</h2>
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

/** The xiaozhi OTA flow: codes devices read out, the devices bound, pre-registration by id. */
function Xiaozhi({ info, refresh }: { info: XiaozhiActivationInfo | undefined; refresh: () => Promise<void> }) {
  const [code, setCode] = useState("");
  const [deviceId, setDeviceId] = useState("");
  const [status, setStatus] = useState<{ ok: boolean; text: string } | undefined>(undefined);
  const act = async (what: () => Promise<unknown>, done: string) => {
    setStatus(undefined);
    try {
      await what();
      setStatus({ ok: true, text: done });
    } catch (err) {
      setStatus({ ok: false, text: failed(err) });
    }
    await refresh();
  };
  const bind = (c: string) =>
    act(() => api("POST", `/api/activation/codes/${encodeURIComponent(c)}`, {}), `Code ${c} bound.`);
  const register = (e: Event) => {
    e.preventDefault();
    const id = deviceId.trim();
    void act(() => api("POST", "/api/activation/devices", { deviceId: id }), `${id} pre-registered.`).then(() =>
      setDeviceId(""),
    );
  };
  const typed = (e: Event) => {
    e.preventDefault();
    void bind(code.trim()).then(() => setCode(""));
  };
  return (
    <>
      <section class="card" aria-labelledby="codes-title">
        <h2 id="codes-title">Pending activation codes</h2>
        <p class="hint">
          A xiaozhi device that is not bound reads out a six-digit code. Bind it here (or with{" "}
          <code>hotpin activate &lt;code&gt;</code>) and the device gets its token at its next check.
        </p>
        {status && (
          <p class={status.ok ? "hint" : "error"} role={status.ok ? "status" : "alert"}>
            {status.text}
          </p>
        )}
        {!info ? null : !info.available ? (
          <p class="unavailable" data-testid="codes-unavailable">
            <strong>Not available.</strong> {info.reason}
          </p>
        ) : (
          <>
            {info.pendingCodes.length === 0 ? (
              <p class="empty">No device is waiting for activation.</p>
            ) : (
              <ul class="plain" data-testid="pending-codes">
                {info.pendingCodes.map((p) => (
                  <li key={p.code}>
                    <span class="mono code">{p.code}</span> <span class="mono">{p.deviceId}</span>{" "}
                    <span class="hint">expires {new Date(p.expiresAt).toLocaleTimeString()}</span>{" "}
                    <button type="button" aria-label={`Bind ${p.code}`} onClick={() => void bind(p.code)}>
                      Bind
                    </button>
                  </li>
                ))}
              </ul>
            )}
            <form class="issue" onSubmit={typed}>
              <div class="field narrow">
                <label for="activation-code">Activation code</label>
                <input
                  id="activation-code"
                  type="text"
                  inputMode="numeric"
                  pattern="[0-9]{6}"
                  title="six digits"
                  required
                  value={code}
                  onInput={(e) => setCode((e.target as HTMLInputElement).value)}
                />
              </div>
              <button type="submit" class="secondary" disabled={!/^[0-9]{6}$/.test(code.trim())}>
                Bind code
              </button>
            </form>
          </>
        )}
      </section>

      <section class="card" aria-labelledby="bound-title">
        <h2 id="bound-title">Bound xiaozhi devices</h2>
        {info?.available && (
          <>
            {info.bound.length === 0 ? (
              <p class="empty">None yet.</p>
            ) : (
              <ul class="plain" data-testid="bound-devices">
                {info.bound.map((b) => (
                  <li key={b.deviceId}>
                    <span class="mono">{b.deviceId}</span>{" "}
                    <span class={b.connected ? "badge on" : "badge off"}>
                      {b.connected ? "connected" : b.lastActivity ? `seen ${ago(b.lastActivity)}` : "not seen"}
                    </span>{" "}
                    <span class="hint">
                      {b.by === "code" ? "by code" : "pre-registered"} {ago(b.boundAt)}
                      {!b.pinned && " · not pinned to a board yet"}
                    </span>{" "}
                    <button
                      type="button"
                      class="danger"
                      aria-label={`Unbind ${b.deviceId}`}
                      onClick={() =>
                        void act(
                          () => api("DELETE", `/api/activation/devices/${encodeURIComponent(b.deviceId)}`),
                          `${b.deviceId} unbound.`,
                        )
                      }
                    >
                      Unbind
                    </button>
                  </li>
                ))}
              </ul>
            )}
            {info.truncated && <p class="hint">Only the newest are listed.</p>}
            <form class="issue" onSubmit={register}>
              <div class="field">
                <label for="xiaozhi-device-id">Pre-register a device id (its Wi-Fi MAC)</label>
                <input
                  id="xiaozhi-device-id"
                  type="text"
                  required
                  maxLength={128}
                  placeholder="aa:bb:cc:dd:ee:ff"
                  value={deviceId}
                  onInput={(e) => setDeviceId((e.target as HTMLInputElement).value)}
                />
              </div>
              <button type="submit" class="secondary" disabled={!deviceId.trim()}>
                Pre-register
              </button>
            </form>
          </>
        )}
      </section>
    </>
  );
}
