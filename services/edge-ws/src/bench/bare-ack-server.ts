import { WebSocketServer } from "ws";

/**
 * The ingest benchmark's baseline: a bare `ws` server that speaks only as much of the firmware
 * dialect as a streaming device needs — `connected` for the handshake, the same
 * `{"status":"receiving",...}` ACK after every 2nd binary frame, and after EOS the same
 * "not understood" answer the edge gives when its (sink) STT hears nothing. No auth, no session,
 * no STT stream. Prints "listening <port>" once bound.
 */
const NOT_UNDERSTOOD = "Could not understand audio. Please try again.";
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, maxPayload: 65_536 });

wss.on("connection", (ws) => {
  let chunks = 0;
  let bytes = 0;
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      chunks++;
      bytes += data.length;
      if (chunks % 2 === 0)
        ws.send(JSON.stringify({ status: "receiving", chunks_received: chunks, bytes_received: bytes }));
      return;
    }
    let msg: { session_id?: unknown; signal?: unknown };
    try {
      msg = JSON.parse(data.toString("utf8"));
    } catch {
      return;
    }
    if (typeof msg.session_id === "string")
      ws.send(JSON.stringify({ status: "connected", session_id: msg.session_id }));
    else if (msg.signal === "EOS") {
      chunks = 0;
      bytes = 0;
      ws.send(JSON.stringify({ status: "processing", stage: "transcription" }));
      ws.send(JSON.stringify({ status: "error", message: NOT_UNDERSTOOD }));
    }
  });
  ws.on("error", () => undefined);
});
wss.on("listening", () => {
  const addr = wss.address();
  console.log(`listening ${typeof addr === "object" && addr ? addr.port : addr}`);
});
process.on("SIGTERM", () => wss.close(() => process.exit(0)));
