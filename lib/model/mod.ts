/**
 * Models: the encoder interface and the frozen encoders (tfjs CNNs such as MobileNet v1,
 * timm-style ViTs), the ImageNet classifier used for CAM cues, the TeD-Loc head, its losses,
 * the anchor space and the baselines (CAM, vanilla patch–text similarity).
 * @module
 */
export * from "./encoder.ts";
export * from "./tfjs_cnn.ts";
export * from "./mobilenet.ts";
export * from "./vit.ts";
export * from "./load_encoder.ts";
export * from "./anchor_space.ts";
export * from "./tedloc.ts";
export * from "./losses.ts";
export * from "./baselines.ts";
export * from "./flops.ts";
export * from "./units.ts";
export * from "./token_source.ts";
