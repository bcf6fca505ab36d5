/**
 * Models: the encoder interface (encoders, TeD-Loc head and baselines land here).
 * @module
 */
export * from "./encoder.ts";
