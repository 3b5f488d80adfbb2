import { llm } from "@hotpin/contracts";
import { type grpc, grpcError } from "@hotpin/runtime";
import type { ContentPart, Message } from "./providers/provider";

export interface RequestLimits {
  maxUserTextChars: number;
  maxImageBytes: number;
  maxHistoryTurns: number;
  maxHistoryChars: number;
  defaultMaxOutputTokens: number;
  maxOutputTokensCap: number;
}

/** A request checked against the limits, ready to become provider messages. */
export interface ValidChat {
  system: string;
  history: { role: "user" | "assistant"; content: string }[];
  userText: string;
  /** data: URL of the image. */
  imageUrl: string | undefined;
  maxTokens: number;
  droppedTurns: number;
}

const STATUS_INVALID_ARGUMENT = 3 satisfies grpc.status.INVALID_ARGUMENT;

/** Validates and trims a ChatRequest; throws an INVALID_ARGUMENT error naming the problem. */
export function validateChat(req: llm.ChatRequest, limits: RequestLimits, defaultSystem: string): ValidChat {
  const invalid = (msg: string) => grpcError(STATUS_INVALID_ARGUMENT, msg);
  const userText = req.userText.trim();
  if (!userText && !req.image?.data.length) throw invalid("user_text or image is required");
  if (userText.length > limits.maxUserTextChars) {
    throw invalid(`user_text is longer than ${limits.maxUserTextChars} characters`);
  }
  let imageUrl: string | undefined;
  if (req.image?.data.length) {
    if (req.image.data.length > limits.maxImageBytes) {
      throw invalid(`image is larger than ${limits.maxImageBytes} bytes`);
    }
    const mime = imageMime(req.image.data, req.image.mimeType);
    if (!mime) throw invalid("image must be JPEG or PNG");
    imageUrl = `data:${mime};base64,${req.image.data.toString("base64")}`;
  }

  // Newest turns first, within both limits, then back to oldest first.
  const history: ValidChat["history"] = [];
  let chars = 0;
  const usable = req.history.filter((t) => t.text.trim() && t.role !== llm.Role.ROLE_UNSPECIFIED);
  for (let i = usable.length - 1; i >= 0 && history.length < limits.maxHistoryTurns; i--) {
    const turn = usable[i]!;
    chars += turn.text.length;
    if (chars > limits.maxHistoryChars) break;
    history.unshift({ role: turn.role === llm.Role.ROLE_ASSISTANT ? "assistant" : "user", content: turn.text });
  }

  const asked = req.maxOutputTokens || limits.defaultMaxOutputTokens;
  return {
    system: req.systemPrompt.trim() || defaultSystem,
    history,
    userText,
    imageUrl,
    maxTokens: Math.min(asked, limits.maxOutputTokensCap),
    droppedTurns: req.history.length - history.length,
  };
}

/** The declared type when it is JPEG or PNG and the bytes agree; sniffed when none is declared. */
function imageMime(data: Buffer, declared: string): string | undefined {
  const jpeg = data.length > 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff;
  const png =
    data.length > 8 && data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const type = declared.trim().toLowerCase();
  if (jpeg && (!type || type === "image/jpeg" || type === "image/jpg")) return "image/jpeg";
  if (png && (!type || type === "image/png")) return "image/png";
  return undefined;
}

/** Provider messages; the image goes in as an image_url part only when the provider can see. */
export function toMessages(chat: ValidChat, vision: boolean): Message[] {
  const text = chat.userText || "What do you see?";
  const content: string | ContentPart[] =
    vision && chat.imageUrl
      ? [
          { type: "text", text },
          { type: "image_url", image_url: { url: chat.imageUrl } },
        ]
      : text;
  return [{ role: "system", content: chat.system }, ...chat.history, { role: "user", content }];
}
