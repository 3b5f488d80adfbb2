import { useState } from "preact/hooks";
import { ApiError, api } from "../api";

export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      await api("POST", "/api/session", { token: token.trim() });
      setToken("");
      onSignedIn();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : "The console could not be reached.");
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin">
      <form class="card" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">HotPin console</h1>
        <p>
          Sign in with an operator token (printed by <code>npm start</code>). Device tokens do not work here.
        </p>
        <label for="token">Operator token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellcheck={false}
          required
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
          aria-invalid={error ? "true" : undefined}
          aria-describedby={error ? "signin-error" : undefined}
        />
        <button type="submit" disabled={busy || !token.trim()}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {error && (
          <p id="signin-error" class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
