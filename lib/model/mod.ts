/**
 * Models: the encoder interface and the frozen encoders (tfjs CNNs such as MobileNet v1,
 * timm-style ViTs), the ImageNet classifier used for CAM cues (TeD-Loc head and baselines
 * land here too).
 * @module
 */
export * from "./encoder.ts";
export * from "./tfjs_cnn.ts";
export * from "./mobilenet.ts";
export * from "./vit.ts";
export * from "./load_encoder.ts";
