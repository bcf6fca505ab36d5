/**
 * Run configuration: one validated, hashed description of a run.
 *
 * @module
 */
export {
  type AnchorsSection,
  type CamSection,
  type CuesSection,
  type DatasetKind,
  type DatasetSection,
  DEFAULT_RUN_CONFIG,
  type EncoderSection,
  type EvalSection,
  type FieldSpec,
  LABEL_FIELDS,
  type LossSection,
  type ModelSection,
  type OptimizerSection,
  RUN_CONFIG_SCHEMA,
  type RunConfig,
  type SamplerSection,
  type ScheduleSection,
  type TrainSection,
} from "./schema.ts";
export * from "./resolve.ts";
export * from "./identity.ts";
