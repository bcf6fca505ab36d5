/**
 * The paper's printed numbers (TeD-Loc, arXiv 2501.12632 v1), to set beside ours in the
 * notebooks' tables. Copied from docs/method.md ("Paper numbers to set beside ours"); a
 * missing value is `null` (printed "–").
 *
 * @module
 */

/** Localization numbers of one method on one dataset, as printed (%). */
export interface PaperLocNumbers {
  maxBoxAcc: number;
  top1Loc: number;
  top5Loc: number | null;
}

/** One row of the paper's Table 1. */
export interface PaperTable1Row {
  method: string;
  backbone: string;
  ilsvrc: PaperLocNumbers;
  cub: PaperLocNumbers;
}

const loc = (maxBoxAcc: number, top1Loc: number, top5Loc: number | null): PaperLocNumbers => ({
  maxBoxAcc,
  top1Loc,
  top5Loc,
});

/** Table 1: MaxBoxAcc / Top-1 Loc / Top-5 Loc on ILSVRC and CUB (paper order). */
export const PAPER_TABLE1: readonly PaperTable1Row[] = [
  {
    method: "CLIP-ES (uses true class)",
    backbone: "CLIP ViT",
    ilsvrc: loc(74.2, 43.0, 62.9),
    cub: loc(92.8, 36.3, 67.2),
  },
  {
    method: "TS-CAM",
    backbone: "DeiT-S",
    ilsvrc: loc(67.7, 53.4, 64.3),
    cub: loc(71.3, 83.8, 87.7),
  },
  { method: "SCM", backbone: "DeiT-S", ilsvrc: loc(68.8, 56.1, 66.4), cub: loc(76.4, 91.6, 96.6) },
  { method: "LCTR", backbone: "DeiT-S", ilsvrc: loc(68.7, 56.1, 65.8), cub: loc(92.4, 79.2, 89.9) },
  {
    method: "PSOL",
    backbone: "DenseNet161 / EffNet-B7",
    ilsvrc: loc(66.3, 58.0, 65.0),
    cub: loc(91.8, 80.9, 90.0),
  },
  {
    method: "C2AM",
    backbone: "DenseNet161 / EffNet-B7",
    ilsvrc: loc(68.5, 59.6, 67.1),
    cub: loc(92.9, 81.8, 91.1),
  },
  {
    method: "GenPromp",
    backbone: "Stable Diffusion / EffNet-B7",
    ilsvrc: loc(75.0, 65.2, 73.4),
    cub: loc(98.0, 87.0, 96.1),
  },
  { method: "CATR", backbone: "DeiT-S", ilsvrc: loc(69.2, 56.9, 66.6), cub: loc(94.9, 79.6, 92.0) },
  {
    method: "DA-WSOL",
    backbone: "ResNet50",
    ilsvrc: loc(71.8, 55.3, null),
    cub: loc(88.4, 71.1, null),
  },
  {
    method: "BAS",
    backbone: "InceptionV3",
    ilsvrc: loc(72.0, 58.5, 69.0),
    cub: loc(94.6, 72.0, 88.1),
  },
  {
    method: "TeD-Loc",
    backbone: "ViT-EVA-L",
    ilsvrc: loc(75.6, 70.0, 75.1),
    cub: loc(98.7, 91.7, 97.6),
  },
];

/** Table 2: loss ablation, CUB MaxBoxAcc. */
export const PAPER_TABLE2: readonly { losses: string; maxBoxAcc: number }[] = [
  { losses: "L_KD", maxBoxAcc: 62.3 },
  { losses: "L_KD + P_CL", maxBoxAcc: 95.4 },
  { losses: "L_KD + P_CL + I_CL", maxBoxAcc: 98.7 },
];

/** Table 3: parameters used at inference (M), inference time (ms), Top-1 Loc ILSVRC / CUB. */
export const PAPER_TABLE3: readonly {
  method: string;
  paramsM: number;
  ms: number;
  top1LocIlsvrc: number;
  top1LocCub: number;
}[] = [
  { method: "TS-CAM", paramsM: 25.12, ms: 19, top1LocIlsvrc: 53.4, top1LocCub: 83.8 },
  { method: "GenPromp", paramsM: 1133.35, ms: 272, top1LocIlsvrc: 65.2, top1LocCub: 87.0 },
  { method: "TeD-Loc", paramsM: 569.67, ms: 121, top1LocIlsvrc: 70.0, top1LocCub: 91.7 },
];

/** Table 4: localization from `<z_p, t_y>`, CUB and ILSVRC (MaxBoxAcc / Top-1 / Top-5 Loc). */
export const PAPER_TABLE4: readonly {
  method: string;
  cub: PaperLocNumbers;
  ilsvrc: PaperLocNumbers;
}[] = [
  { method: "vanilla CLIP", cub: loc(18.8, 8.9, 15.2), ilsvrc: loc(41.1, 26.6, 37.0) },
  { method: "SCLIP", cub: loc(85.8, 14.4, 37.1), ilsvrc: loc(70.4, 33.9, 55.1) },
  { method: "NACLIP", cub: loc(80.8, 12.0, 32.3), ilsvrc: loc(71.7, 28.6, 49.4) },
  { method: "TeD-Loc", cub: loc(98.7, 92.0, 97.5), ilsvrc: loc(77.18, 71.8, 76.7) },
];

/** Table 5: anchor orthogonalization on CUB (MaxBoxAcc / classification / Top-1 / Top-5 Loc). */
export const PAPER_TABLE5: readonly {
  ortho: string;
  maxBoxAcc: number;
  top1Cls: number;
  top1Loc: number;
  top5Loc: number;
}[] = [
  { ortho: "without", maxBoxAcc: 97.73, top1Cls: 56.0, top1Loc: 54.84, top5Loc: 85.79 },
  { ortho: "with (QR)", maxBoxAcc: 98.7, top1Cls: 93.0, top1Loc: 91.7, top5Loc: 97.6 },
];

/** The backbone the paper's TeD-Loc rows use. */
export const PAPER_TEDLOC_BACKBONE = "ViT-EVA-L (CLIP)";
