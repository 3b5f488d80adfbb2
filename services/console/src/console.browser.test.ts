import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { events } from "@hotpin/contracts";
import { eventSubject, newEventId } from "@hotpin/runtime";
import { loadSpeech, runFleet } from "@hotpin/sim";
import {
  type FakeGroq,
  repositoryRoot,
  startFakeGroq,
  startMesh,
  TEST_DEVICE_TOKEN,
  TEST_OPERATOR_TOKEN,
  type TestMesh,
} from "@hotpin/test-support";
import { connect } from "@nats-io/transport-node";
import axe from "axe-core";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import sharp from "sharp";
import { LAYOUT_PROBLEMS } from "./testing/layout-check";

const CHROMIUM = "/usr/bin/chromium";
/** LibriVox speech from Debian's pocketsphinx-testdata: "he was not an ill disposed young man" (3 s). */
const MIC_WAV = "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav";
const GOFORWARD = "/usr/share/pocketsphinx/test/data/goforward.raw";
const ANSWER = "The console hears you.";
const SHOTS = join(repositoryRoot(), "services/console/screenshots");
const SIZES = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

const missing = [CHROMIUM, MIC_WAV, GOFORWARD].filter((f) => !existsSync(f));
const skip =
  process.env.HOTPIN_CONSOLE_SKIP_BROWSER === "1"
    ? "HOTPIN_CONSOLE_SKIP_BROWSER=1"
    : missing.length > 0
      ? `missing ${missing.join(", ")} (Debian packages chromium, pocketsphinx-testdata)`
      : false;
if (skip) console.log(`# console browser tests skipped: ${skip}`);

describe("console in a real Chromium", { skip }, () => {
  let groq: FakeGroq;
  let mesh: TestMesh;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let virtual: Page;
  let virtualId = "";

  before(async () => {
    await mkdir(SHOTS, { recursive: true });
    groq = await startFakeGroq({ defaultAnswer: ANSWER });
    mesh = await startMesh({
      console: true,
      env: { GROQ_API_KEY: "test-key", GROQ_BASE_URL: groq.url },
      serviceEnv: {
        console: { HOTPIN_CONSOLE_SCRAPE_INTERVAL_MS: "1000", HOTPIN_CONSOLE_DEVICES: "hotpin-kitchen,hotpin-desk" },
      },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        `--use-file-for-fake-audio-capture=${MIC_WAV}`,
      ],
    });
    context = await browser.newContext({ viewport: SIZES.desktop });
    await context.grantPermissions(["microphone"], { origin: mesh.consoleUrl });
    page = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    await mesh?.[Symbol.asyncDispose]();
    await groq?.[Symbol.asyncDispose]();
  });

  /** WCAG 2 A/AA violations axe-core finds on the page as it is now, one line each. */
  async function accessibilityProblems(p: Page): Promise<string[]> {
    if (!(await p.evaluate("typeof window.axe === 'object'"))) await p.evaluate(axe.source);
    return (await p.evaluate(
      `axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
        .then((r) => r.violations.map((v) => v.id + ": " + v.nodes.map((n) => n.target.join(" ")).join(", ")))`,
    )) as string[];
  }

  /** Full-page screenshots at both sizes, each checked for overlapping or cut-off boxes and by axe-core. */
  async function screenshots(p: Page, name: string): Promise<void> {
    const problems: string[] = [];
    for (const [size, viewport] of Object.entries(SIZES)) {
      await p.setViewportSize(viewport);
      // Two frames: the charts resize on a ResizeObserver callback.
      await p.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))");
      await p.screenshot({ path: join(SHOTS, `${name}-${size}.png`), fullPage: true });
      const found = (await p.evaluate(`(${LAYOUT_PROBLEMS})()`)) as string[];
      problems.push(...found.map((f) => `${name} (${size}): ${f}`));
      problems.push(...(await accessibilityProblems(p)).map((f) => `${name} (${size}) accessibility: ${f}`));
    }
    await p.setViewportSize(SIZES.desktop);
    assert.deepEqual(problems, [], "layout problems");
  }

  it("layout check - finds boxes that overlap, stick out or are cut", async () => {
    const p = await context.newPage();
    await p.setViewportSize(SIZES.phone);
    await p.setContent(`<body style="margin:0">
      <div style="display:flex;width:300px"><div style="width:200px;flex:none">a</div><div style="width:200px;flex:none;margin-left:-50px">b</div></div>
      <div style="width:600px">wide</div>
      <div style="width:100px;overflow:hidden;white-space:nowrap">a long line of text that does not fit</div>
    </body>`);
    const found = ((await p.evaluate(`(${LAYOUT_PROBLEMS})()`)) as string[]).join("\n");
    await p.close();
    assert.match(found, /overlaps/);
    assert.match(found, /sticks out of the viewport/);
    assert.match(found, /cuts its content/);
    assert.match(found, /scrolls sideways/);
  });

  it("console - refuses a wrong operator token, a device token and API calls without a session", async () => {
    const bare = await fetch(`${mesh.consoleUrl}/api/fleet`);
    assert.equal(bare.status, 401);
    await page.goto(mesh.consoleUrl);
    await page.getByLabel("Operator token").fill("not-the-operator-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "not an operator token" }).waitFor();
    await page.getByLabel("Operator token").fill(TEST_DEVICE_TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "not an operator token" }).waitFor();
    assert.equal(await page.getByRole("heading", { name: "Fleet" }).count(), 0);
    await screenshots(page, "sign-in");
  });

  it("console - signs in and shows a simulated fleet appear live, with latency", async () => {
    await page.getByLabel("Operator token").fill(TEST_OPERATOR_TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Fleet" }).waitFor();
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "hotpin_console");
    assert.ok(session?.httpOnly, "the session cookie is HttpOnly");
    assert.equal(session?.sameSite, "Strict");
    assert.ok(!page.url().includes(TEST_OPERATOR_TOKEN), "the token is not in the URL");

    const pcm = await loadSpeech(GOFORWARD);
    // Each device sends a camera photo with its question: its thumbnail comes back from the blob store.
    const image = await sharp({ create: { width: 320, height: 240, channels: 3, background: "#c0392b" } })
      .jpeg()
      .toBuffer();
    const fleet = runFleet({
      image,
      url: mesh.edgeUrl,
      dialect: "spec",
      devices: 3,
      deviceIdPrefix: "sim",
      token: TEST_DEVICE_TOKEN,
      pcm,
      staggerMs: 200,
    });
    // The devices appear while they talk (live updates, no reload).
    await page.locator('tr[data-device^="sim-"]').nth(2).waitFor({ timeout: 30_000 });
    const result = await fleet;
    assert.equal(result.ok, 3, JSON.stringify(result.devices.map((d) => d.error)));
    await page.locator('tr[data-device="sim-003"]').getByText("gone").waitFor({ timeout: 30_000 });
    // The edge's first-audio histogram reaches the chart within a scrape or two.
    await page.getByTestId("first-audio-p50").filter({ hasNotText: "—" }).waitFor({ timeout: 30_000 });
    await page.getByTestId("stage-breakdown").waitFor();
    assert.match((await page.locator('tr[data-device="sim-001"]').textContent()) ?? "", /spec/);
    await screenshots(page, "fleet");

    await page.locator('tr[data-device="sim-001"]').getByRole("link").click();
    const thumb = page.getByTestId("timeline").getByRole("img", { name: "Sent by the device with this turn" });
    await thumb.first().waitFor();
    // Loaded, not only placed: the bytes came from storage's blob store through the console.
    const natural = () =>
      thumb.first().evaluate((i) => {
        const img = i as unknown as { naturalWidth: number; naturalHeight: number };
        return [img.naturalWidth, img.naturalHeight];
      });
    let size = await natural();
    for (const deadline = Date.now() + 15_000; size[0] === 0 && Date.now() < deadline; size = await natural()) {
      await page.waitForTimeout(100);
    }
    assert.deepEqual(size, [160, 120], "the edge's 160 px thumbnail");
    await page.getByTestId("stored-turns").getByRole("img").first().waitFor({ timeout: 15_000 });
    await screenshots(page, "device-with-image");
    await page.getByRole("link", { name: "Fleet" }).click();
  });

  it("console - the virtual device speaks through the fake microphone and plays the reply", async () => {
    virtual = await context.newPage();
    await virtual.goto(`${mesh.consoleUrl}/virtual`);
    await virtual.getByRole("button", { name: "Connect" }).click();
    await virtual.getByTestId("vd-status").filter({ hasText: "Ready" }).waitFor({ timeout: 20_000 });
    virtualId = (await virtual.getByLabel("Device id").inputValue()).trim();
    assert.match(virtualId, /^console-[0-9a-f]{8}$/);
    const ptt = virtual.getByTestId("ptt");
    await ptt.hover();
    await virtual.mouse.down();
    // Hold the button while the fake microphone speaks: partials show up live.
    await virtual.getByTestId("vd-partial").filter({ hasNotText: "—" }).waitFor({ timeout: 20_000 });
    await virtual.waitForTimeout(2500);
    await virtual.mouse.up();
    await virtual.getByTestId("vd-transcript").filter({ hasNotText: "—" }).waitFor({ timeout: 30_000 });
    await virtual.getByTestId("vd-answer").filter({ hasText: ANSWER }).waitFor({ timeout: 30_000 });
    await virtual.getByTestId("vd-played").filter({ hasText: "Reply played" }).waitFor({ timeout: 30_000 });
    const transcript = (await virtual.getByTestId("vd-transcript").textContent()) ?? "";
    assert.ok(transcript.trim().split(/\s+/).length >= 2, `a transcript of the speech: ${transcript}`);
    await screenshots(virtual, "virtual-device");
  });

  it("console - the device page shows the live timeline and stored turns, and delivers say", async () => {
    await page.bringToFront();
    await page.locator(`tr[data-device="${virtualId}"]`).getByRole("link").click();
    await page.getByRole("heading", { name: `Device ${virtualId}` }).waitFor();
    const timeline = page.getByTestId("timeline");
    await timeline.getByText("Transcript", { exact: true }).first().waitFor();
    await timeline.getByText(ANSWER).first().waitFor();
    await page.getByTestId("turn-latency").getByText("replied").first().waitFor();
    await page.getByTestId("stored-turns").getByText(ANSWER).first().waitFor({ timeout: 15_000 });

    // A wake word, as the edge publishes one on NATS, is on the timeline with its source and score.
    const nc = await connect({ servers: mesh.nats.url });
    try {
      const wake = events.Event.fromPartial({
        id: newEventId(),
        deviceId: virtualId,
        sessionId: "wake-session",
        edgeInstance: "edge-test",
        time: new Date(),
        payload: { $case: "wakeWord", value: { word: "hey hotpin", confidence: 0.87, source: "server" } },
      });
      nc.publish(eventSubject(virtualId, "wakeWord"), events.Event.encode(wake).finish());
      await nc.flush();
    } finally {
      await nc.close();
    }
    await timeline.getByText("“hey hotpin” (server, 87 %)").waitFor({ timeout: 15_000 });

    await page.getByLabel("Say on the device").fill("Hello from the operator.");
    await page.getByRole("button", { name: "Say", exact: true }).click();
    await page.getByTestId("command-result").filter({ hasText: "Said: delivered" }).waitFor({ timeout: 60_000 });
    await virtual.getByTestId("vd-answer").filter({ hasText: "Hello from the operator." }).waitFor();
    await virtual.getByTestId("vd-played").filter({ hasText: "Reply played" }).waitFor({ timeout: 30_000 });
    await screenshots(page, "device");

    // Push-to-talk from the keyboard; a take too short to understand is asked for again.
    await virtual.getByTestId("ptt").focus();
    await virtual.keyboard.down("Space");
    await virtual.getByTestId("vd-status").filter({ hasText: "Listening" }).waitFor();
    await virtual.keyboard.up("Space");
    await virtual.getByRole("alert").filter({ hasText: "record again" }).waitFor({ timeout: 30_000 });
    await timeline.getByText("Re-record asked").first().waitFor({ timeout: 15_000 });
  });

  it("console - activation binds a xiaozhi device's code from the page, and issues a device token", async () => {
    // A xiaozhi device checks in with the edge's OTA endpoint and is given a code to read out.
    const xiaozhiCheck = async (deviceId = "aa:bb:cc:00:00:42") => {
      const res = await fetch(`${mesh.edgeUrl}/xiaozhi/ota/`, {
        method: "POST",
        headers: {
          "device-id": deviceId,
          "client-id": `board-${deviceId}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ version: 2, application: { name: "xiaozhi", version: "2.0.4" }, board: { type: "x" } }),
      });
      assert.equal(res.status, 200);
      return (await res.json()) as { websocket?: { token: string }; activation?: { code: string } };
    };
    const code = (await xiaozhiCheck()).activation?.code ?? "";
    assert.match(code, /^[0-9]{6}$/);
    await page.getByRole("link", { name: "Activation" }).click();
    await page.getByRole("heading", { name: "Activation", exact: true }).waitFor();
    // Listed live (the edge wrote it to KV before the page was opened, or while it is open).
    const pending = page.getByTestId("pending-codes").getByRole("listitem").filter({ hasText: code });
    await pending.getByText("aa:bb:cc:00:00:42").waitFor({ timeout: 15_000 });
    await screenshots(page, "activation-codes");
    await page.getByRole("button", { name: `Bind ${code}` }).click();
    await page
      .getByRole("status")
      .filter({ hasText: `Code ${code} bound.` })
      .waitFor();
    await page.getByTestId("bound-devices").getByText("aa:bb:cc:00:00:42").waitFor();
    await pending.waitFor({ state: "detached" }); // the bound code is gone from the list
    assert.match((await xiaozhiCheck()).websocket?.token ?? "", /^eyJ/, "the bound device is given its token");
    // A device checking in while the page is open shows up without a reload; its code typed in binds it.
    const second = (await xiaozhiCheck("aa:bb:cc:00:00:43")).activation?.code ?? "";
    await page.getByTestId("pending-codes").getByText("aa:bb:cc:00:00:43").waitFor({ timeout: 15_000 });
    await page.getByRole("textbox", { name: "Activation code" }).fill(second);
    await page.getByRole("button", { name: "Bind code" }).click();
    await page.getByTestId("bound-devices").getByText("aa:bb:cc:00:00:43").waitFor();
    // Pre-register by id, then unbind the first device: it is given a code again.
    await page.getByRole("textbox", { name: "Pre-register a device id" }).fill("aa:bb:cc:00:00:44");
    await page.getByRole("button", { name: "Pre-register" }).click();
    await page.getByTestId("bound-devices").getByText("aa:bb:cc:00:00:44").waitFor();
    await page.getByRole("button", { name: "Unbind aa:bb:cc:00:00:42" }).click();
    await page.getByRole("status").filter({ hasText: "aa:bb:cc:00:00:42 unbound." }).waitFor();
    await page.getByTestId("bound-devices").getByText("aa:bb:cc:00:00:42").waitFor({ state: "detached" });
    assert.match((await xiaozhiCheck()).activation?.code ?? "", /^[0-9]{6}$/, "unbound: a code again");
    await screenshots(page, "activation-bound");
    await page.getByText("hotpin-kitchen").waitFor();
    await page.getByLabel("Device id", { exact: true }).fill("hotpin-test-01");
    await page.getByRole("button", { name: "Issue token" }).click();
    const token = await page.getByTestId("issued-token").locator("textarea").first().inputValue();
    assert.match(token, /^eyJ/);
    await screenshots(page, "activation");
    // The issued token opens the edge's device socket for that device (checked by the edge itself).
    const res = await fetch(`${mesh.edgeUrl}/image?session=hotpin-other`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: Buffer.from("x"),
    });
    assert.equal(res.status, 403, "a device token is for its own device only");
  });
});
