/**
 * Helpers shared by the text tests.
 * @module
 */
import { ClipTokenizer } from "../../lib/text/tokenizer.ts";

/** Token → id of a vocabulary that fits the tiny test model (vocabulary 50, SOT 48, EOT 49). */
export function tinyModelVocab(): Record<string, number> {
  const vocab: Record<string, number> = {};
  "abcd".split("").forEach((ch, i) => {
    vocab[ch] = i + 1;
    vocab[`${ch}</w>`] = i + 11;
  });
  vocab[".</w>"] = 20;
  vocab["<|startoftext|>"] = 48;
  vocab["<|endoftext|>"] = 49;
  return vocab;
}

/** A tokenizer whose ids fit the tiny test model (vocabulary 50, SOT 48, EOT 49). */
export function tinyModelTokenizer(): ClipTokenizer {
  return new ClipTokenizer(new Map(Object.entries(tinyModelVocab())), [], "tiny-model-vocab");
}
