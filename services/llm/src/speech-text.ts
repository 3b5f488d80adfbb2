/**
 * Text for speech (seed 004): what TTS should say, not what a screen should show. Drops code
 * blocks, bare URLs, emojis and markdown syntax; keeps link text, inline code text and numbers.
 */

// Pictographs plus the joiners, variation selectors, skin tones and flags that build emoji sequences.
const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\p{Emoji_Modifier}|\u200D|\uFE0E|\uFE0F|\u20E3/gu;
const FENCED_CODE = /```[\s\S]*?(```|$)|~~~[\s\S]*?(~~~|$)/g;
const IMAGE = /!\[([^\]]*)\]\([^)]*\)/g;
const LINK = /\[([^\]]+)\]\((?:[^)\s]+)(?:\s+"[^"]*")?\)/g;
const BARE_URL = /\b(?:https?:\/\/|www\.)[^\s<>()]+[^\s<>().,;:!?'"]/gi;
const ANGLE_URL = /<(?:https?:\/\/|mailto:)[^>]*>/gi;
const HTML_TAG = /<\/?[A-Za-z][^>]*>/g;
const HEADING = /^[ \t]*#{1,6}[ \t]+/gm;
const BLOCKQUOTE = /^[ \t]*>[ \t]?/gm;
const LIST_MARKER = /^[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]+/gm;
const RULE = /^[ \t]*(?:[-*_][ \t]*){3,}$/gm;
const TABLE_DIVIDER = /^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*$/gm;
const INLINE_CODE = /`([^`\n]*)`/g;
// Emphasis underscores only at word edges, so snake_case words keep theirs.
const UNDERSCORE_EMPHASIS = /(^|[\s(])_{1,3}(?=\S)|(?<=\S)_{1,3}(?=[\s).,;:!?]|$)/g;

export function textForSpeech(text: string): string {
  return text
    .replace(FENCED_CODE, " ")
    .replace(IMAGE, "$1")
    .replace(LINK, "$1")
    .replace(ANGLE_URL, " ")
    .replace(BARE_URL, " ")
    .replace(HTML_TAG, " ")
    .replace(TABLE_DIVIDER, " ")
    .replace(RULE, " ")
    .replace(HEADING, "")
    .replace(BLOCKQUOTE, "")
    .replace(LIST_MARKER, "")
    .replace(INLINE_CODE, "$1")
    .replace(/\*+/g, "")
    .replace(/~~/g, "")
    .replace(UNDERSCORE_EMPHASIS, "$1")
    .replace(/\|/g, ", ")
    .replace(EMOJI, "")
    .replace(/[ \t]*\n[ \t]*/g, " ")
    .replace(/\s{2,}/g, " ")
    .replace(/\s+([.,;:!?])/g, "$1")
    .replace(/^[\s,;:]+/, "")
    .trim();
}

/** True when nothing in the text can be spoken (only punctuation or symbols left). */
export function unspeakable(text: string): boolean {
  return !/[\p{L}\p{N}]/u.test(text);
}
