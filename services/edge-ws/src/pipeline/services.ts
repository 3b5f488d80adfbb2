import { Metadata } from "@grpc/grpc-js";
import { llm, storage, type stt, tts } from "@hotpin/contracts";
import { createGrpcClient, deadlineIn } from "@hotpin/runtime";
import { SpeechToTextClient } from "./stt-client";

/** The gRPC clients the pipeline uses; one channel each, shared by every session. */
export interface Services {
  stt: stt.SpeechToTextClient;
  llm: llm.LanguageModelClient;
  tts: tts.TextToSpeechClient;
  storage: storage.StorageClient;
}

export function connectServices(addr: { stt: string; llm: string; tts: string; storage: string }): Services {
  return {
    stt: createGrpcClient(SpeechToTextClient, addr.stt),
    llm: createGrpcClient(llm.LanguageModelClient, addr.llm),
    tts: createGrpcClient(tts.TextToSpeechClient, addr.tts),
    storage: createGrpcClient(storage.StorageClient, addr.storage),
  };
}

export function closeServices(s: Services): void {
  for (const c of [s.stt, s.llm, s.tts, s.storage]) c.close();
}

type UnaryFn<Req, Res> = (
  req: Req,
  md: Metadata,
  opts: { deadline: Date },
  cb: (err: Error | null, res: Res) => void,
) => unknown;

/** A unary call with a deadline, as a promise: `unary(client, client.getSession, req, 1000)`. */
export function unary<Req, Res>(client: object, fn: UnaryFn<Req, Res>, req: Req, timeoutMs: number): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn.call(client, req, new Metadata(), { deadline: deadlineIn(timeoutMs) }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}
