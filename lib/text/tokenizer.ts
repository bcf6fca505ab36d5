/**
 * CLIP's byte-level BPE tokenizer (the semantics of OpenAI CLIP / open_clip
 * `simple_tokenizer.py`), without ftfy.
 *
 * Pipeline of {@link ClipTokenizer.encode}: text clean-up ({@link cleanClipText}: HTML
 * unescaped twice, a small ftfy subset, whitespace runs → one space, trimmed, lower-cased),
 * then CLIP's split pattern (special tokens, English contractions, letter runs, single
 * digits, runs of other non-space symbols), each piece's UTF-8 bytes mapped to printable
 * characters ({@link bytesToUnicode}), the last character marked with `</w>`, and BPE
 * merges applied lowest rank first. {@link ClipTokenizer.tokenize} adds
 * `<|startoftext|>`/`<|endoftext|>` and pads with 0 to the 77-token context.
 *
 * Vocabulary sources: CLIP's `bpe_simple_vocab_16e6.txt(.gz)` (a merges list; the vocabulary
 * is the 256 byte characters, the same with `</w>`, one token per merge, and the two special
 * tokens: 49,408 ids) or Hugging Face `vocab.json` + `merges.txt`.
 *
 * What ftfy would do and this does not: repair mojibake and other encoding damage. It does
 * NFC normalisation, straightens curly quotes and splits Latin ligatures, which is what
 * ftfy changes in ordinary clean text.
 *
 * @module
 */
import { InputError, readInputFile } from "../io/errors.ts";

/** CLIP's context length (tokens per prompt, start and end tokens included). */
export const CLIP_CONTEXT_LENGTH = 77;

/** The start-of-text special token. */
export const CLIP_SOT = "<|startoftext|>";
/** The end-of-text special token. */
export const CLIP_EOT = "<|endoftext|>";

/** Merges CLIP uses from its vocabulary file (49152 − 256 − 2). */
const CLIP_MERGE_COUNT = 48894;

let byteMap: string[] | null = null;

/**
 * GPT-2/CLIP's reversible byte → character table: printable Latin-1 bytes map to
 * themselves, the other 68 bytes to U+0100 onwards (in byte order), so every byte string
 * becomes a string of visible characters without spaces.
 *
 * @example
 * ```ts
 * bytesToUnicode()[0x20];   // "Ġ" (U+0120): a space byte
 * bytesToUnicode()[0x61];   // "a"
 * ```
 */
export function bytesToUnicode(): string[] {
  if (byteMap) return byteMap;
  const map = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) ||
      (b >= 0xae && b <= 0xff);
    map[b] = String.fromCodePoint(printable ? b : 256 + extra++);
  }
  byteMap = map;
  return map;
}

/** The 256 byte characters in CLIP's vocabulary order (the printable ranges first). */
function byteVocabularyOrder(): string[] {
  const map = bytesToUnicode();
  const printable: string[] = [];
  const rest: string[] = [];
  for (let b = 0; b < 256; b++) {
    const cp = map[b].codePointAt(0)!;
    (cp === b ? printable : rest).push(map[b]);
  }
  return [...printable, ...rest];
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: "\u00a0",
  ndash: "\u2013",
  mdash: "\u2014",
  lsquo: "\u2018",
  rsquo: "\u2019",
  ldquo: "\u201c",
  rdquo: "\u201d",
  hellip: "\u2026",
  copy: "\u00a9",
  reg: "\u00ae",
  deg: "\u00b0",
  eacute: "\u00e9",
  egrave: "\u00e8",
  uuml: "\u00fc",
  ouml: "\u00f6",
  auml: "\u00e4",
  szlig: "\u00df",
};

/**
 * Unescape HTML character references: numeric ones (`&#39;`, `&#x27;`) and the common
 * named ones (`&amp;`, `&lt;`, `&quot;`, …). Unknown names are left as they are.
 */
export function unescapeHtml(text: string): string {
  return text.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);/g, (all, ref: string) => {
    if (ref[0] === "#") {
      const code = ref[1] === "x" || ref[1] === "X"
        ? parseInt(ref.slice(2), 16)
        : parseInt(ref.slice(1), 10);
      if (!(code > 0 && code <= 0x10ffff) || (code >= 0xd800 && code <= 0xdfff)) return "\ufffd";
      return String.fromCodePoint(code);
    }
    return NAMED_ENTITIES[ref] ?? all;
  });
}

const LIGATURES: Record<string, string> = {
  "\ufb00": "ff",
  "\ufb01": "fi",
  "\ufb02": "fl",
  "\ufb03": "ffi",
  "\ufb04": "ffl",
  "\ufb05": "st",
  "\ufb06": "st",
  "\u0132": "IJ",
  "\u0133": "ij",
};

/**
 * CLIP's text clean-up before splitting: HTML unescaped twice, NFC, curly quotes
 * straightened, Latin ligatures split, whitespace runs collapsed to one space, trimmed,
 * lower-cased (what `whitespace_clean(basic_clean(text)).lower()` gives on clean text).
 *
 * @example
 * ```ts
 * cleanClipText("  Image of a\tBlack  footed&amp;Albatross. "); // "image of a black footed&albatross."
 * ```
 */
export function cleanClipText(text: string): string {
  let t = unescapeHtml(unescapeHtml(text)).normalize("NFC");
  t = t.replace(/[\u2018\u2019\u201a\u201b]/g, "'").replace(/[\u201c\u201d\u201e\u201f]/g, '"');
  t = t.replace(/[\ufb00-\ufb06\u0132\u0133]/g, (c) => LIGATURES[c]);
  return t.replace(/\s+/gu, " ").trim().toLowerCase();
}

/** CLIP's split pattern (applied to cleaned, lower-cased text). */
const CLIP_PATTERN =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/giu;

/** Options of {@link ClipTokenizer.tokenize}. */
export interface TokenizeOptions {
  /** Tokens per row (default 77). */
  contextLength?: number;
  /** Cut long texts to the context, keeping `<|endoftext|>` last (default false: error). */
  truncate?: boolean;
}

/**
 * CLIP's BPE tokenizer. Build it with {@link loadClipTokenizer} (files) or
 * {@link ClipTokenizer.fromMerges} / {@link ClipTokenizer.fromVocabAndMerges} (text).
 *
 * @example
 * ```ts
 * const tok = await loadClipTokenizer("bpe_simple_vocab_16e6.txt.gz");
 * tok.encode("a photo of a cat");            // [320, 1125, 539, 320, 2368]
 * const ids = tok.tokenize(["a photo of a cat"]);  // Int32Array 1×77: 49406, …, 49407, 0, …
 * ```
 */
export class ClipTokenizer {
  /** Token string → id. */
  readonly encoder: Map<string, number>;
  /** Id → token string. */
  readonly decoder: string[];
  /** Id of `<|startoftext|>`. */
  readonly sotToken: number;
  /** Id of `<|endoftext|>`. */
  readonly eotToken: number;
  /** Where the vocabulary came from. */
  readonly source: string;
  private readonly ranks: Map<string, number>;
  private readonly cache = new Map<string, string[]>();
  private readonly byteEncoder = bytesToUnicode();
  private readonly utf8 = new TextEncoder();

  constructor(
    encoder: Map<string, number>,
    merges: [string, string][],
    source = "<memory>",
  ) {
    this.encoder = encoder;
    this.source = source;
    this.decoder = [];
    for (const [token, id] of encoder) this.decoder[id] = token;
    this.ranks = new Map(merges.map(([a, b], i) => [`${a} ${b}`, i]));
    const sot = encoder.get(CLIP_SOT);
    const eot = encoder.get(CLIP_EOT);
    if (sot === undefined || eot === undefined) {
      throw new InputError(`vocabulary lacks ${CLIP_SOT} or ${CLIP_EOT}`, { file: source });
    }
    this.sotToken = sot;
    this.eotToken = eot;
    this.cache.set(CLIP_SOT, [CLIP_SOT]);
    this.cache.set(CLIP_EOT, [CLIP_EOT]);
  }

  /**
   * From CLIP's merges text (`bpe_simple_vocab_16e6.txt`): the first line is a header;
   * the next `min(48894, available)` lines are merges. The vocabulary is derived from them.
   */
  static fromMerges(text: string, source = "<memory>", mergeCount?: number): ClipTokenizer {
    const lines = text.split("\n");
    const available = lines.slice(1).filter((l) => l.trim() !== "").length;
    const count = mergeCount ?? Math.min(CLIP_MERGE_COUNT, available);
    if (count > available) {
      throw new InputError(`${available} merges in the file, ${count} requested`, { file: source });
    }
    const merges = parseMergeLines(lines.slice(1, 1 + count), source, 2);
    const vocab = byteVocabularyOrder();
    const all = [...vocab, ...vocab.map((v) => v + "</w>"), ...merges.map(([a, b]) => a + b)];
    all.push(CLIP_SOT, CLIP_EOT);
    const encoder = new Map<string, number>();
    all.forEach((t, i) => {
      if (!encoder.has(t)) encoder.set(t, i);
    });
    return new ClipTokenizer(encoder, merges, source);
  }

  /** From Hugging Face `vocab.json` (token → id) and `merges.txt` (`#version` header optional). */
  static fromVocabAndMerges(
    vocabJson: string,
    mergesText: string,
    source = "<memory>",
  ): ClipTokenizer {
    let vocab: unknown;
    try {
      vocab = JSON.parse(vocabJson);
    } catch (err) {
      throw new InputError(`vocab.json is not JSON (${(err as Error).message})`, {
        file: source,
      });
    }
    if (typeof vocab !== "object" || vocab === null || Array.isArray(vocab)) {
      throw new InputError("vocab.json is not an object of token → id", { file: source });
    }
    const encoder = new Map<string, number>();
    for (const [token, id] of Object.entries(vocab as Record<string, unknown>)) {
      if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
        throw new InputError(`vocab.json: token '${token}' has id ${JSON.stringify(id)}`, {
          file: source,
        });
      }
      encoder.set(token, id);
    }
    const lines = mergesText.split("\n");
    const start = lines[0]?.startsWith("#version") ? 1 : 0;
    const merges = parseMergeLines(lines.slice(start), source, start + 1);
    return new ClipTokenizer(encoder, merges, source);
  }

  /** BPE of one pre-split piece (already byte-mapped): its tokens. */
  private bpe(piece: string): string[] {
    const hit = this.cache.get(piece);
    if (hit) return hit;
    const chars = Array.from(piece);
    let word = [...chars.slice(0, -1), chars[chars.length - 1] + "</w>"];
    while (word.length > 1) {
      let best = Infinity, first = "", second = "";
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < best) [best, first, second] = [r, word[i], word[i + 1]];
      }
      if (best === Infinity) break;
      const merged: string[] = [];
      for (let i = 0; i < word.length;) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else merged.push(word[i++]);
      }
      word = merged;
    }
    if (this.cache.size < 100_000) this.cache.set(piece, word);
    return word;
  }

  /** The BPE token strings of a text (no start/end tokens). */
  encodeTokens(text: string): string[] {
    const out: string[] = [];
    for (const m of cleanClipText(text).matchAll(CLIP_PATTERN)) {
      let mapped = "";
      for (const b of this.utf8.encode(m[0])) mapped += this.byteEncoder[b];
      out.push(...this.bpe(mapped));
    }
    return out;
  }

  /** Token ids of a text (no start/end tokens). */
  encode(text: string): number[] {
    return this.encodeTokens(text).map((t) => {
      const id = this.encoder.get(t);
      if (id === undefined) {
        throw new InputError(`token '${t}' of '${text}' is not in the vocabulary`, {
          file: this.source,
        });
      }
      return id;
    });
  }

  /** Text back from ids (`<|startoftext|>` dropped, stops at `<|endoftext|>`, `</w>` → space). */
  decode(ids: ArrayLike<number>): string {
    const byteOf = new Map(this.byteEncoder.map((c, b) => [c, b]));
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const t = this.decoder[ids[i]];
      if (ids[i] === this.eotToken) break;
      if (t === undefined || ids[i] === this.sotToken) continue;
      const chars = Array.from(t.replace(/<\/w>$/, " "));
      for (const c of chars) bytes.push(c === " " ? 0x20 : byteOf.get(c) ?? 0x3f);
    }
    return new TextDecoder().decode(new Uint8Array(bytes)).trim();
  }

  /**
   * Ids of `<|startoftext|> text <|endoftext|>` for each text, zero-padded to the context:
   * a row-major `texts.length × contextLength` Int32Array. Too long → error, or cut with
   * `<|endoftext|>` kept last when `truncate`.
   */
  tokenize(texts: string[], opts: TokenizeOptions = {}): Int32Array {
    const ctx = opts.contextLength ?? CLIP_CONTEXT_LENGTH;
    const out = new Int32Array(texts.length * ctx);
    texts.forEach((text, row) => {
      let ids = [this.sotToken, ...this.encode(text), this.eotToken];
      if (ids.length > ctx) {
        if (!opts.truncate) {
          throw new InputError(
            `text of ${ids.length} tokens is longer than the context length ${ctx}: '${text}'`,
          );
        }
        ids = ids.slice(0, ctx);
        ids[ctx - 1] = this.eotToken;
      }
      out.set(ids, row * ctx);
    });
    return out;
  }

  /** Vocabulary size (largest id + 1). */
  get vocabSize(): number {
    return this.decoder.length;
  }
}

function parseMergeLines(lines: string[], source: string, firstLine: number): [string, string][] {
  const merges: [string, string][] = [];
  lines.forEach((l, i) => {
    if (l.trim() === "") return;
    const parts = l.split(/\s+/).filter((p) => p !== "");
    if (parts.length !== 2) {
      throw new InputError(`a merge needs two tokens, got ${parts.length}: '${l}'`, {
        file: source,
        line: firstLine + i,
      });
    }
    merges.push([parts[0], parts[1]]);
  });
  return merges;
}

async function readMaybeGzip(path: string): Promise<string> {
  const bytes = await readInputFile(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
        .pipeThrough(new DecompressionStream("gzip"));
      return await new Response(stream).text();
    } catch (err) {
      throw new InputError(`gzip data is damaged (${(err as Error).message})`, { file: path });
    }
  }
  return new TextDecoder().decode(bytes);
}

/**
 * Load a CLIP tokenizer from CLIP's `bpe_simple_vocab_16e6.txt[.gz]` (a path), or from
 * Hugging Face files (`{ vocab: "vocab.json", merges: "merges.txt" }`). A path ending in
 * `vocab.json` looks for `merges.txt` beside it.
 *
 * @example
 * ```ts
 * const tok = await loadClipTokenizer("../shared/data/clip/bpe_simple_vocab_16e6.txt.gz");
 * const hf = await loadClipTokenizer({ vocab: "clip/vocab.json", merges: "clip/merges.txt" });
 * ```
 */
export async function loadClipTokenizer(
  from: string | { vocab: string; merges: string },
): Promise<ClipTokenizer> {
  if (typeof from === "string" && from.endsWith(".json")) {
    const slash = from.lastIndexOf("/");
    from = { vocab: from, merges: `${slash >= 0 ? from.slice(0, slash + 1) : ""}merges.txt` };
  }
  if (typeof from === "string") return ClipTokenizer.fromMerges(await readMaybeGzip(from), from);
  return ClipTokenizer.fromVocabAndMerges(
    await readMaybeGzip(from.vocab),
    await readMaybeGzip(from.merges),
    from.vocab,
  );
}
