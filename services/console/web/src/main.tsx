import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, whenSignedOut } from "./api";
import { Activation } from "./pages/activation";
import { DevicePage } from "./pages/device";
import { FleetPage } from "./pages/fleet";
import { SignIn } from "./pages/sign-in";
import { VirtualDevicePage } from "./pages/virtual-device";
import { navigate, onLinkClick, usePath } from "./router";
import "uplot/dist/uPlot.min.css";
import "./styles.css";

const PAGES = [
  { path: "/", label: "Fleet" },
  { path: "/activation", label: "Activation" },
  { path: "/virtual", label: "Virtual device" },
];

function App() {
  const [signedIn, setSignedIn] = useState<boolean | undefined>(undefined);
  const path = usePath();
  useEffect(() => {
    whenSignedOut(() => setSignedIn(false));
    api("GET", "/api/session").then(
      () => setSignedIn(true),
      () => setSignedIn(false),
    );
  }, []);
  useEffect(() => {
    const page = path.startsWith("/devices/") ? "Device" : (PAGES.find((p) => p.path === path)?.label ?? "Fleet");
    document.title = signedIn === false ? "Sign in · HotPin console" : `${page} · HotPin console`;
  }, [path, signedIn]);
  if (signedIn === undefined) return <p class="loading">Loading…</p>;
  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;
  const signOut = async () => {
    await api("DELETE", "/api/session").catch(() => undefined);
    setSignedIn(false);
    navigate("/");
  };
  let page = <FleetPage />;
  if (path.startsWith("/devices/")) page = <DevicePage deviceId={decodeURIComponent(path.slice("/devices/".length))} />;
  else if (path === "/activation") page = <Activation />;
  else if (path === "/virtual") page = <VirtualDevicePage />;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">HotPin console</span>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.path}>
                <a
                  href={p.path}
                  onClick={onLinkClick}
                  aria-current={
                    p.path === path || (p.path === "/" && path.startsWith("/devices/")) ? "page" : undefined
                  }
                >
                  {p.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" class="link" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
